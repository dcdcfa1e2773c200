from django.urls import path

from privacy import views

urlpatterns = [
    path("staff/privacy/", views.staff_coverage, name="staff-privacy"),
    path("staff/privacy/paper-forms/", views.staff_paper_forms, name="staff-privacy-paper-forms"),
    path("staff/privacy/paper-forms/<int:pk>/", views.staff_paper_form, name="staff-privacy-paper-form"),
    path("staff/privacy/texts/", views.staff_texts, name="staff-privacy-texts"),
    path("staff/privacy/texts/<slug:code>/", views.staff_text, name="staff-privacy-text"),
    path("staff/privacy/requests/", views.staff_requests, name="staff-privacy-requests"),
    path("staff/privacy/requests/new/", views.staff_request_new, name="staff-privacy-request-new"),
    path("staff/privacy/requests/<int:pk>/", views.staff_request, name="staff-privacy-request"),
    path("staff/privacy/requests/<int:pk>/decide/", views.staff_request_decide, name="staff-privacy-request-decide"),
    path("staff/privacy/requests/<int:pk>/retry/", views.staff_request_retry, name="staff-privacy-request-retry"),
    path("staff/privacy/disclosures/", views.staff_disclosures, name="staff-privacy-disclosures"),
    path("family/privacy/", views.family_privacy, name="family-privacy"),
    path("family/privacy/consents/", views.family_consents, name="family-consents"),
    path(
        "family/privacy/consents/<int:student>/<slug:purpose>/",
        views.family_consent_decide,
        name="family-consent-decide",
    ),
    path("family/privacy/shared/", views.family_disclosures, name="family-disclosures"),
    # privacy/api.py advertises this address as a request's downloadUrl: keep the two in step.
    path("family/privacy/downloads/<uuid:token>/", views.download, name="privacy-download"),
]
