from django.db import migrations

# code, title, lawful basis, requires consent, text, fields partners acting for it may see
PURPOSES = [
    ("photosOnWebsite", "Photos on the school website", "consent", True,
     "We may publish photos of your child at school events on the school website and newsletter.", {}),
    ("schoolTrips", "School trips", "consent", True,
     "Your child may take part in local school trips during the school day.", {}),
    ("emergencyMedicalTreatment", "Emergency medical treatment", "consent", True,
     "If we cannot reach you, staff may agree to emergency medical treatment for your child.", {}),
    ("thirdPartySharing", "Sharing with partner systems", "consent", True,
     "We may share your child's name, class and attendance with the partner apps the school uses.", {}),
    ("marketing", "News about school events", "consent", True,
     "We may send you news about fairs, clubs and fundraising events.", {}),
    ("dataProcessing", "Running the school", "public_task", False,
     "We process your child's data to educate them and keep them safe, as the law requires.", {}),
    ("attendanceReporting", "Attendance reporting", "legal_obligation", False,
     "Attendance is shared with the local authority's attendance service.",
     {"students": ["rollNumber", "firstName", "lastName", "classGroup", "classGroupId", "status"],
      "attendance": ["studentId", "rollNumber", "date", "session", "status", "code", "minutesLate"]}),
]

# category, description, days, anchor, action, basis
POLICIES = [
    ("student_record", "A student's record after they leave", 6 * 365, "student_left", "anonymise",
     "Kept for six years after leaving (school records retention schedule)"),
    ("attendance_register", "Attendance registers", 3 * 365, "student_left", "anonymise",
     "Registers are kept by law (The School Attendance Regulations) for three years after the entry"),
    ("notifications", "Notifications and their deliveries", 365, "record_created", "delete", "Operational need"),
    ("disclosure_log", "The log of disclosures to partner systems", 2 * 365, "record_created", "delete",
     "Accountability"),
]


def create(apps, schema_editor):
    Purpose = apps.get_model("privacy", "Purpose")
    PurposeText = apps.get_model("privacy", "PurposeText")
    RetentionPolicy = apps.get_model("privacy", "RetentionPolicy")
    for code, title, basis, requires, text, fields in PURPOSES:
        purpose, created = Purpose.objects.get_or_create(
            code=code, defaults={"title": title, "lawful_basis": basis, "requires_consent": requires,
                                 "visible_fields": fields},
        )
        if created:
            PurposeText.objects.create(purpose=purpose, version=1, text=text, status="active")
    for category, description, days, anchor, action, basis in POLICIES:
        RetentionPolicy.objects.get_or_create(
            category=category,
            defaults={"description": description, "period_days": days, "anchor": anchor, "action": action,
                      "lawful_basis": basis},
        )


class Migration(migrations.Migration):
    dependencies = [("privacy", "0001_initial")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
