from django.urls import path

from notifications import views

urlpatterns = [
    path("notifications/", views.inbox_redirect, name="notifications"),
    path("staff/notifications/", views.staff_sent_list, name="staff-notifications"),
    path("staff/notifications/new/", views.staff_compose, name="staff-notification-compose"),
    path("staff/notifications/<int:pk>/", views.staff_message, name="staff-notification-message"),
    path("staff/notifications/inbox/", views.staff_inbox, name="staff-inbox"),
    path("staff/notifications/inbox/<int:pk>/", views.staff_inbox_notification, name="staff-inbox-notification"),
    path("staff/notifications/inbox/read-all/", views.staff_read_all, name="staff-inbox-read-all"),
    path("staff/notifications/preferences/", views.staff_preferences, name="staff-notification-preferences"),
    path("staff/notifications/absence-alerts/", views.staff_absence_alerts, name="staff-absence-alerts"),
    path("family/notifications/", views.family_inbox, name="family-inbox"),
    path("family/notifications/<int:pk>/", views.family_notification, name="family-notification"),
    path("family/notifications/read-all/", views.family_read_all, name="family-inbox-read-all"),
    path("family/notifications/preferences/", views.family_preferences, name="family-notification-preferences"),
]
