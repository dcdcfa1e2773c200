from django.urls import path

from students import views

urlpatterns = [
    path("staff/", views.staff_dashboard, name="staff-dashboard"),
    path("staff/students/", views.staff_student_list, name="staff-students"),
    path("staff/students/<int:pk>/", views.staff_student_detail, name="staff-student"),
    path("family/", views.family_home, name="family-home"),
    path("family/children/<int:pk>/", views.family_child, name="family-child"),
]
