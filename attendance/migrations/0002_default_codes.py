from django.db import migrations

# code, label, category, counts as possible, usable by, guide status it stands for, order
DEFAULT_CODES = [
    ("/", "Present", "present", True, "teachers", "present", 10),
    ("L", "Late, before the register closed", "late", True, "teachers", "late", 20),
    ("N", "Absent, no reason yet", "unauthorised_absence", True, "teachers", "absent", 30),
    ("U", "Late, after the register closed", "unauthorised_absence", True, "office", "", 40),
    ("C", "Authorised absence: other", "authorised_absence", True, "office", "excused", 50),
    ("I", "Illness", "authorised_absence", True, "office", "", 60),
    ("M", "Medical or dental appointment", "authorised_absence", True, "office", "", 70),
    ("R", "Religious observance", "authorised_absence", True, "office", "", 80),
    ("E", "Excluded", "authorised_absence", True, "office", "", 90),
    ("O", "Unauthorised absence", "unauthorised_absence", True, "office", "", 100),
    ("G", "Holiday not agreed by the school", "unauthorised_absence", True, "office", "", 110),
    ("B", "Educated off site", "approved_activity", True, "office", "", 120),
    ("P", "Approved sporting activity", "approved_activity", True, "office", "", 130),
    ("V", "Educational visit or trip", "approved_activity", True, "teachers", "", 140),
    ("#", "Planned school closure", "not_counted", False, "office", "", 150),
    ("X", "Not required to attend", "not_counted", False, "office", "", 160),
]


def create_codes(apps, schema_editor):
    AttendanceCode = apps.get_model("attendance", "AttendanceCode")
    for code, label, category, possible, usable_by, api_status, order in DEFAULT_CODES:
        AttendanceCode.objects.get_or_create(
            code=code,
            defaults={
                "label": label,
                "category": category,
                "counts_as_possible": possible,
                "usable_by": usable_by,
                "api_default_for": api_status,
                "sort_order": order,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("attendance", "0001_initial")]

    operations = [migrations.RunPython(create_codes, migrations.RunPython.noop)]
