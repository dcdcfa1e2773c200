"""Fill an empty database with a believable demo school, and print how to sign in to it."""

from __future__ import annotations

import importlib
import json
import random
from datetime import date, timedelta
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from oauth2_provider.generators import generate_client_secret

from harmony.management.commands.create_partner_app import register_partner_app
from harmony.models import Application
from harmony.roles import Role
from harmony.sync.changes import record_changes
from students.models import ClassGroup, Guardian, Guardianship, Student
from students.services import student_change

DEMO_DOMAIN = "demo.darul-arkam.example"
DEMO_PASSWORD = "harmony-demo-2026"
DEMO_APPS = {
    "Demo MIS (client credentials)": (
        "client-credentials",
        "students:read students:write attendance:read attendance:write "
        "notifications:read notifications:write sync privacy",
    ),
    "Demo parent app (password grant)": (
        "password",
        "students:read attendance:read notifications:read privacy",
    ),
}
FEMALE_NAMES = [
    "Aisha",
    "Maryam",
    "Fatima",
    "Zainab",
    "Khadija",
    "Sara",
    "Amina",
    "Hafsa",
    "Safiya",
    "Layla",
    "Ruqayya",
    "Noor",
    "Hana",
    "Iman",
    "Asma",
    "Samira",
    "Yasmin",
    "Nadia",
    "Emma",
    "Chloe",
    "Amelia",
    "Grace",
    "Sophie",
    "Lily",
]
MALE_NAMES = [
    "Yusuf",
    "Ibrahim",
    "Omar",
    "Bilal",
    "Hamza",
    "Adam",
    "Idris",
    "Zakariya",
    "Ismail",
    "Musa",
    "Harun",
    "Ali",
    "Tariq",
    "Sulaiman",
    "Dawud",
    "Bashir",
    "Karim",
    "Rayan",
    "Oliver",
    "Jack",
    "Leo",
    "Noah",
    "Ethan",
    "Daniel",
]
FIRST_NAMES = FEMALE_NAMES + MALE_NAMES
LAST_NAMES = [
    "Ahmed",
    "Khan",
    "Hussain",
    "Ali",
    "Rahman",
    "Begum",
    "Abdi",
    "Mohamed",
    "Osman",
    "Farah",
    "Hassan",
    "Yusuf",
    "Malik",
    "Iqbal",
    "Chaudhry",
    "Sheikh",
    "Patel",
    "Mirza",
    "Qureshi",
    "Siddiqui",
    "Jama",
    "Warsame",
    "Nur",
    "Saleh",
    "Haddad",
    "Mansour",
    "Karimi",
    "Demir",
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Wilson",
    "Evans",
]
STREETS = ["Mill Lane", "Park Road", "Church Street", "Victoria Road", "Station Road", "Green Lane", "Kings Road"]
YEAR_GROUPS = [7, 8, 9, 10, 11, 12]
FORMS = ["A", "B", "C", "D"]
STUDENTS_PER_GROUP = 25


def _app_demo_seeders() -> list[Any]:
    """Each other app may add to the demo school from its own `demo.py` (found by name, not imported here)."""
    seeders = []
    for config in apps.get_app_configs():
        if config.name == "students":
            continue
        try:
            module = importlib.import_module(f"{config.name}.demo")
        except ModuleNotFoundError as error:
            if error.name != f"{config.name}.demo":
                raise
            continue
        seeders.append(module.seed)
    return seeders


class Command(BaseCommand):
    help = "Fill an empty database with a demo school: about 600 students, their guardians, staff and partner apps."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=2026, help="Random seed, for a repeatable school")

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        if User.objects.filter(username=f"admin@{DEMO_DOMAIN}").exists():
            self.stdout.write("The demo school is already here; fresh partner secrets follow.")
            self._print(self._refresh_demo_secrets())
            return
        if Student.objects.exists() or Guardian.objects.exists() or User.objects.exists():
            raise CommandError(
                "This database already holds data that is not the demo school's: seed_demo only fills an empty one."
            )
        rng = random.Random(options["seed"])
        with transaction.atomic():
            self._seed(rng)
            credentials = [
                register_partner_app(name=name, scopes=scopes.split(), grant=grant)
                for name, (grant, scopes) in DEMO_APPS.items()
            ]
            for seed in _app_demo_seeders():
                seed(rng=rng, stdout=self.stdout)
        self._print(credentials)

    def _seed(self, rng: random.Random) -> None:
        User = get_user_model()
        password = make_password(DEMO_PASSWORD)  # one hash for every demo account: hashing 1,000 is slow
        groups = {role: Group.objects.get_or_create(name=role.value)[0] for role in Role}

        def staff(username: str, first: str, last: str, *roles: Role, **extra: Any) -> Any:
            user = User.objects.create(
                username=f"{username}@{DEMO_DOMAIN}",
                email=f"{username}@{DEMO_DOMAIN}",
                first_name=first,
                last_name=last,
                password=password,
                **extra,
            )
            user.groups.set([groups[role] for role in roles])
            return user

        staff("admin", "Amal", "Haddad", Role.ADMINISTRATOR, is_staff=True, is_superuser=True)
        staff("office", "Owen", "Price", Role.OFFICE, is_staff=True)
        staff("privacy", "Priya", "Shah", Role.PRIVACY_OFFICER, is_staff=True)
        class_groups = []
        for year in YEAR_GROUPS:
            for form in FORMS:
                n = len(class_groups) + 1
                teacher = staff(f"teacher{n}", rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES), Role.TEACHER)
                class_groups.append(
                    ClassGroup.objects.create(name=f"{year}{form}", year_group=year, form_tutor=teacher)
                )
        self._seed_families(rng, class_groups, password)

    def _seed_families(self, rng: random.Random, class_groups: list[ClassGroup], password: str) -> None:
        User = get_user_model()
        places = [group for group in class_groups for _ in range(STUDENTS_PER_GROUP)]
        rng.shuffle(places)
        students, guardian_users, guardians, links = [], [], [], []
        family = 0
        while places:
            family += 1
            surname = rng.choice(LAST_NAMES)
            address = f"{rng.randint(1, 240)} {rng.choice(STREETS)}, Leicester LE{rng.randint(1, 9)}"
            children = [places.pop() for _ in range(min(len(places), rng.choice([1, 1, 1, 2, 2, 3])))]
            for group in children:
                age = 11 + group.year_group - 7
                gender = rng.choice([Student.Gender.FEMALE, Student.Gender.MALE])
                students.append(
                    Student(
                        roll_number=f"DA{2026 - age + 11}{len(students) + 1:04d}",
                        first_name=rng.choice(FEMALE_NAMES if gender == Student.Gender.FEMALE else MALE_NAMES),
                        last_name=surname,
                        date_of_birth=date(2026 - age - 1, 9, 1) + timedelta(days=rng.randint(0, 364)),
                        gender=gender,
                        class_group=group,
                        enrolled_on=date(2026 - (group.year_group - 7), 9, 3),
                        address=address,
                        medical_notes=rng.choice(["", "", "", "Asthma: inhaler in the office.", "Nut allergy."]),
                    )
                )
            for number, relationship in enumerate(
                rng.choice([["mother", "father"], ["mother"], ["father"], ["mother", "carer"]])
            ):
                username = f"parent{family}{'ab'[number]}@{DEMO_DOMAIN}"
                guardian_users.append(
                    User(
                        username=username,
                        email=username,
                        first_name=rng.choice(
                            {"mother": FEMALE_NAMES, "father": MALE_NAMES}.get(relationship, FIRST_NAMES)
                        ),
                        last_name=surname,
                        password=password,
                    )
                )
                guardians.append((len(students) - len(children), len(children), relationship, number == 0, address))
        Student.objects.bulk_create(students)
        record_changes("students", [student_change(s.pk, s.roll_number) for s in students], source="system")
        User.objects.bulk_create(guardian_users)
        users = {u.username: u for u in User.objects.filter(username__startswith="parent")}
        saved_guardians = Guardian.objects.bulk_create(
            [
                Guardian(user=users[u.username], phone=f"07{rng.randint(100000000, 999999999)}", address=g[4])
                for u, g in zip(guardian_users, guardians, strict=True)
            ]
        )
        for guardian, (first, count, relationship, primary, _address) in zip(saved_guardians, guardians, strict=True):
            for student in students[first : first + count]:
                links.append(
                    Guardianship(
                        guardian=guardian,
                        student=student,
                        relationship=relationship,
                        parental_responsibility=True,
                        primary_contact=primary,
                    )
                )
        Guardianship.objects.bulk_create(links)

    def _refresh_demo_secrets(self) -> list[dict[str, Any]]:
        credentials = []
        for app in Application.objects.filter(name__startswith="Demo "):
            secret = generate_client_secret()
            app.client_secret = secret
            app.save(update_fields=["client_secret"])
            credentials.append(
                {
                    "name": app.name,
                    "client_id": app.client_id,
                    "client_secret": secret,
                    "grant": app.authorization_grant_type,
                    "scopes": app.allowed_scopes.split(),
                }
            )
        return credentials

    def _print(self, credentials: list[dict[str, Any]]) -> None:
        first_parent = Guardian.objects.select_related("user").order_by("pk").first()
        self.stdout.write(self.style.SUCCESS(f"Demo school ready: {Student.objects.count()} students."))
        self.stdout.write(f"Every demo account's password: {DEMO_PASSWORD}")
        self.stdout.write(f"  administrator   admin@{DEMO_DOMAIN}     (staff portal /staff/, admin /admin/)")
        self.stdout.write(f"  office          office@{DEMO_DOMAIN}")
        self.stdout.write(f"  privacy officer privacy@{DEMO_DOMAIN}")
        self.stdout.write(f"  teacher of 7A   teacher1@{DEMO_DOMAIN}")
        if first_parent:
            self.stdout.write(f"  parent          {first_parent.user.username}   (family pages /family/)")
        self.stdout.write("Partner applications (the secret is shown only now):")
        for item in credentials:
            self.stdout.write("  " + json.dumps(item))
