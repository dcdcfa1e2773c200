"""The server-rendered pages from the outside: who may open which page, signing in and out, and their cost.

The sweep walks every page for every persona, and a test checks that the sweep knows every page route, so a
new page fails here until someone decides who may see it.
"""

from __future__ import annotations

import importlib
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from tests.conftest import School
from tests.factories import PASSWORD, make_class_group, make_guardian, make_student, make_user

pytestmark = pytest.mark.django_db

STAFF = ("admin", "office", "teacher", "colleague")
GUARDIANS = ("guardian", "outsider")
PERSONAS = ("anonymous", *STAFF, *GUARDIANS)


def user_of(school: School, persona: str) -> Any:
    if persona in GUARDIANS:
        return getattr(school, persona).user
    return getattr(school, persona)


def client_for(school: School, persona: str) -> Client:
    client = Client()
    if persona != "anonymous":
        client.force_login(user_of(school, persona))
    return client


def staff_page(path: str, *, hidden_from: tuple[str, ...] = ()) -> dict[str, int | str]:
    """Staff see it (404 for a student outside a teacher's classes); guardians get 403; strangers sign in."""
    return {
        "anonymous": f"/staff/login/?next={path}",
        **{persona: 404 if persona in hidden_from else 200 for persona in STAFF},
        **dict.fromkeys(GUARDIANS, 403),
    }


def family_page(path: str, *, hidden_from: tuple[str, ...] = ()) -> dict[str, int | str]:
    """Guardians see it (404 for another family's child); staff get 403; strangers sign in on the family page."""
    return {
        "anonymous": f"/family/login/?next={path}",
        **dict.fromkeys(STAFF, 403),
        **{persona: 404 if persona in hidden_from else 200 for persona in GUARDIANS},
    }


def sign_in_page() -> dict[str, int | str]:
    """Anyone may sign in; someone signed in already goes where their account may go."""
    return {"anonymous": 200, **dict.fromkeys(STAFF, "/staff/"), **dict.fromkeys(GUARDIANS, "/family/")}


# route → (path with {child_a}/{child_b} for the school's children, the answer for each persona). An answer
# is a status code, or the path a 302 leads to.
PAGES: dict[str, tuple[str, dict[str, int | str]]] = {
    "": ("/", sign_in_page()),
    "staff/login/": ("/staff/login/", sign_in_page()),
    "family/login/": ("/family/login/", sign_in_page()),
    "staff/": ("/staff/", staff_page("/staff/")),
    "staff/students/": ("/staff/students/", staff_page("/staff/students/")),
    "staff/students/<int:pk>/ (child_a)": (
        "/staff/students/{child_a}/",
        staff_page("/staff/students/{child_a}/", hidden_from=("colleague",)),
    ),
    "staff/students/<int:pk>/ (child_b)": (
        "/staff/students/{child_b}/",
        staff_page("/staff/students/{child_b}/", hidden_from=("teacher",)),
    ),
    "family/": ("/family/", family_page("/family/")),
    "family/children/<int:pk>/ (child_a)": (
        "/family/children/{child_a}/",
        family_page("/family/children/{child_a}/", hidden_from=("outsider",)),
    ),
    "family/children/<int:pk>/ (child_b)": (
        "/family/children/{child_b}/",
        family_page("/family/children/{child_b}/", hidden_from=("guardian",)),
    ),
    # Only administrators have is_staff; Django's admin sends everyone else to its sign-in form.
    "admin/": ("/admin/", {**dict.fromkeys(PERSONAS, "/admin/login/?next=/admin/"), "admin": 200}),
    "admin/login/": ("/admin/login/", {**dict.fromkeys(PERSONAS, 200), "admin": "/admin/"}),
    "signout/": ("/signout/", dict.fromkeys(PERSONAS, 405)),  # a GET never signs anyone out
    "healthz": ("/healthz", dict.fromkeys(PERSONAS, 200)),
    "readyz": ("/readyz", dict.fromkeys(PERSONAS, 200)),
}


def page_routes(resolver: URLResolver | None = None, prefix: str = "") -> set[str]:
    """Return the route of every page outside the API, the admin's own being summed up by `admin/`."""
    routes = set()
    for pattern in (resolver or get_resolver()).url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if route not in {"api/", "admin/"}:
                routes |= page_routes(pattern, route)
        elif isinstance(pattern, URLPattern):
            routes.add(route)
    return routes | {"admin/"}


def swept_elsewhere() -> set[str]:
    """Routes the apps' own page sweeps decide: each tests/<app>/test_pages.py names its SWEPT_ROUTES, or keys
    its PAGES by route."""
    routes: set[str] = set()
    for app in ("students", "attendance", "notifications", "privacy"):
        try:
            module = importlib.import_module(f"tests.{app}.test_pages")
        except ModuleNotFoundError:
            continue
        declared = getattr(module, "SWEPT_ROUTES", None)
        routes |= declared if declared is not None else {name.split(" (")[0] for name in getattr(module, "PAGES", {})}
    return routes


def test_the_sweep_covers_every_page_route():
    swept = {name.split(" (")[0] for name in PAGES} | swept_elsewhere()
    assert page_routes() == swept


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("page", list(PAGES))
def test_each_persona_gets_the_answer_the_page_promises(school, page, persona):
    template, answers = PAGES[page]
    children = {"child_a": school.child_a.pk, "child_b": school.child_b.pk}
    path = template.format(**children)
    expected = answers[persona]
    response = client_for(school, persona).get(path)
    if isinstance(expected, str):
        assert (response.status_code, response["Location"]) == (302, expected.format(**children))
    else:
        assert response.status_code == expected


class TestWhoSeesWhat:
    def test_a_stranger_is_sent_to_the_staff_sign_in_and_back_to_the_page_afterwards(self, school):
        client = Client()
        response = client.get(f"/staff/students/{school.child_a.pk}/")
        assert response["Location"] == f"/staff/login/?next=/staff/students/{school.child_a.pk}/"
        response = client.post(response["Location"], {"username": "office@school.test", "password": PASSWORD})
        assert response["Location"] == f"/staff/students/{school.child_a.pk}/"
        assert client.get(response["Location"]).status_code == 200

    def test_a_stranger_is_sent_to_the_family_sign_in_for_family_pages(self, school):
        response = Client().get("/family/")
        assert response["Location"] == "/family/login/?next=/family/"

    def test_guardian_cannot_open_staff_pages(self, school):
        client = client_for(school, "guardian")
        for path in ("/staff/", "/staff/students/", f"/staff/students/{school.child_a.pk}/"):
            response = client.get(path)
            assert response.status_code == 403
            assert b"Not allowed" in response.content

    def test_staff_without_a_guardian_profile_cannot_open_family_pages(self, school):
        client = client_for(school, "office")
        assert client.get("/family/").status_code == 403
        assert client.get(f"/family/children/{school.child_a.pk}/").status_code == 403

    def test_a_member_of_staff_who_is_also_a_parent_may_open_the_family_pages(self, school):
        make_guardian(make_student(school.class_b, first_name="Sami"), user=school.colleague)
        client = client_for(school, "colleague")
        assert client.get("/staff/").status_code == 200
        assert b"Sami" in client.get("/family/").content

    def test_teacher_cannot_see_a_student_outside_their_classes(self, school):
        client = client_for(school, "teacher")
        assert client.get(f"/staff/students/{school.child_a.pk}/").status_code == 200
        response = client.get(f"/staff/students/{school.child_b.pk}/")
        assert response.status_code == 404
        assert b"Bilal" not in response.content

    def test_teacher_sees_only_their_classes_in_the_student_list(self, school):
        content = client_for(school, "teacher").get("/staff/students/").content.decode()
        assert "Ahmed, Amira" in content
        assert "Bilal" not in content

    def test_teacher_sees_a_class_they_teach_without_being_its_tutor(self, school):
        school.class_b.teachers.add(school.teacher)
        assert client_for(school, "teacher").get(f"/staff/students/{school.child_b.pk}/").status_code == 200

    def test_guardian_cannot_see_another_family_child(self, school):
        client = client_for(school, "guardian")
        response = client.get(f"/family/children/{school.child_b.pk}/")
        assert response.status_code == 404
        assert b"Bilal" not in response.content
        assert b"Page not found" in response.content

    def test_guardian_sees_only_their_own_children_at_home(self, school):
        content = client_for(school, "guardian").get("/family/").content.decode()
        assert "Amira Ahmed" in content
        assert "Bilal" not in content

    def test_guardian_cannot_see_a_child_who_was_deleted(self, school):
        school.child_a.deleted_at = timezone.now()
        school.child_a.save()
        client = client_for(school, "guardian")
        assert client.get(f"/family/children/{school.child_a.pk}/").status_code == 404
        assert b"Amira" not in client.get("/family/").content

    def test_the_dashboard_counts_students_on_roll_class_groups_and_guardians(self, school):
        make_student(school.class_a)
        make_student(school.class_a, status="left")
        make_class_group("8A", year_group=8)
        content = client_for(school, "teacher").get("/staff/").content.decode()
        assert 'data-figure="students">3<' in content
        assert 'data-figure="class-groups">3<' in content
        assert 'data-figure="guardians">2<' in content


class TestSigningIn:
    def sign_in(self, client: Client, username: str, password: str = PASSWORD, portal: str = "staff") -> Any:
        return client.post(f"/{portal}/login/", {"username": username, "password": password})

    def test_staff_sign_in_and_land_on_the_dashboard(self, school):
        client = Client()
        response = self.sign_in(client, "office@school.test")
        assert response["Location"] == "/staff/"
        assert client.get("/staff/").status_code == 200

    def test_guardians_sign_in_and_land_on_their_children(self, school):
        response = self.sign_in(Client(), "parent@family.test", portal="family")
        assert response["Location"] == "/family/"

    def test_staff_who_sign_in_on_the_family_page_land_on_the_dashboard_not_a_403(self, school):
        assert self.sign_in(Client(), "teacher@school.test", portal="family")["Location"] == "/staff/"

    def test_guardians_who_sign_in_on_the_staff_page_land_on_their_children(self, school):
        assert self.sign_in(Client(), "parent@family.test")["Location"] == "/family/"

    def test_a_wrong_password_shows_the_form_again_with_an_error(self, school):
        response = self.sign_in(Client(), "office@school.test", "wrong password")
        assert response.status_code == 200
        assert b'role="alert"' in response.content
        assert "_auth_user_id" not in response.wsgi_request.session

    def test_it_refuses_the_sixth_attempt_after_five_failures_even_with_the_right_password(self, school):
        client = Client()
        for _ in range(5):
            assert self.sign_in(client, "teacher@school.test", "wrong password").status_code == 200
        response = self.sign_in(client, "teacher@school.test")
        assert response.status_code == 429
        # Windows are fixed 15-minute slots, so the wait is whatever is left of the current one.
        wait = int(response["Retry-After"])
        assert 0 < wait <= 15 * 60
        minutes = max(1, round(wait / 60))
        message = f"Too many failed sign-in attempts. Try again in about {minutes} minute"
        assert message in response.content.decode()
        assert "_auth_user_id" not in client.session

    def test_it_limits_a_username_from_any_address(self, school):
        for n in range(5):
            self.sign_in(Client(REMOTE_ADDR=f"192.0.2.{n}"), "Teacher@School.test ", "wrong password")
        response = self.sign_in(Client(REMOTE_ADDR="198.51.100.7"), "teacher@school.test")
        assert response.status_code == 429

    def test_it_limits_an_address_across_usernames(self, school):
        client = Client()
        for n in range(5):
            self.sign_in(client, f"guess{n}@school.test", "wrong password")
        response = self.sign_in(client, "office@school.test")
        assert response.status_code == 429
        assert response["Retry-After"]
        # Someone else, elsewhere, is not locked out by it.
        assert self.sign_in(Client(REMOTE_ADDR="198.51.100.7"), "office@school.test").status_code == 302

    def test_the_limit_is_shared_by_both_portals_and_the_admin(self, school):
        client = Client()
        for portal in ("staff", "family", "staff", "family", "admin"):
            self.sign_in(client, "admin@school.test", "wrong password", portal=portal)
        assert self.sign_in(client, "admin@school.test", portal="family").status_code == 429
        assert self.sign_in(client, "admin@school.test", portal="staff").status_code == 429
        response = self.sign_in(client, "admin@school.test", portal="admin")
        assert response.status_code == 429
        assert response["Retry-After"]
        assert "Too many failed sign-in attempts" in response.content.decode()
        assert "_auth_user_id" not in client.session

    def test_the_admin_sign_in_still_works_for_administrators(self, school):
        client = Client()
        response = client.post("/admin/login/?next=/admin/", {"username": "admin@school.test", "password": PASSWORD})
        assert response["Location"] == "/admin/"
        assert client.get("/admin/").status_code == 200

    def test_successful_sign_ins_are_not_counted(self, school):
        client = Client()
        for _ in range(6):
            assert self.sign_in(client, "office@school.test").status_code == 302
            client.post("/signout/")
        for _ in range(4):
            self.sign_in(client, "office@school.test", "wrong password")
        assert self.sign_in(client, "office@school.test").status_code == 302

    def test_the_lock_ends_with_its_window(self, school):
        with time_machine.travel(timezone.now(), tick=False) as traveller:
            client = Client()
            for _ in range(5):
                self.sign_in(client, "office@school.test", "wrong password")
            assert self.sign_in(client, "office@school.test").status_code == 429
            traveller.shift(timedelta(minutes=15, seconds=1))
            assert self.sign_in(client, "office@school.test").status_code == 302


class TestSigningOut:
    def test_sign_out_works_by_post(self, school):
        client = client_for(school, "office")
        response = client.post("/signout/")
        assert response["Location"] == "/"
        assert client.get("/staff/")["Location"] == "/staff/login/?next=/staff/"

    def test_a_get_does_not_sign_anyone_out(self, school):
        client = client_for(school, "office")
        assert client.get("/signout/").status_code == 405
        assert client.get("/staff/").status_code == 200

    def test_sign_out_needs_the_csrf_token(self, school):
        client = Client(enforce_csrf_checks=True)
        client.force_login(school.office)
        assert client.post("/signout/").status_code == 403
        assert client.get("/staff/").status_code == 200


class TestQueryCounts:
    def count_queries(self, client: Client, path: str) -> tuple[Any, CaptureQueriesContext]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path)
        assert response.status_code == 200
        return response, queries

    @pytest.mark.parametrize("persona", ["office", "teacher"])
    def test_the_staff_student_list_costs_the_same_for_two_students_or_a_full_page(self, school, persona):
        client = client_for(school, persona)
        _, few = self.count_queries(client, "/staff/students/")
        for n in range(30):
            make_guardian(make_student(school.class_a if n % 2 else school.class_b))
        response, many = self.count_queries(client, "/staff/students/")
        assert len(response.context["page"]) == (25 if persona == "office" else 16)
        # session, user, user's groups (roles), the unread count in the navigation, count of visible students,
        # the page with class groups joined
        assert len(many) == len(few) == 6, [q["sql"] for q in many.captured_queries]

    def test_the_family_home_costs_the_same_for_one_child_or_many(self, school):
        client = client_for(school, "guardian")
        _, few = self.count_queries(client, "/family/")
        for _ in range(5):
            child = make_student(make_class_group())
            school.guardian.guardianships.create(student=child, relationship="mother")
        response, many = self.count_queries(client, "/family/")
        assert len(response.context["children"]) == 6
        # session, user, the user's guardian profile, the unread count in the navigation, the children with their
        # class groups joined; the consent banner: the children, the purposes that ask for consent, their texts,
        # the consent states
        assert len(many) == len(few) == 9, [q["sql"] for q in many.captured_queries]

    def test_the_staff_student_page_costs_the_same_for_one_guardian_or_many(self, school):
        client = client_for(school, "office")
        path = f"/staff/students/{school.child_a.pk}/"
        _, few = self.count_queries(client, path)
        for _ in range(4):
            make_guardian(school.child_a)
        response, many = self.count_queries(client, path)
        assert len(response.context["links"]) == 5
        assert len(many) == len(few)


def test_a_user_with_no_role_and_no_children_is_refused_politely(school):
    client = Client()
    client.force_login(make_user("nobody@example.org"))
    assert client.get("/")["Location"] == "/family/"
    assert client.get("/family/").status_code == 403
    assert client.get("/staff/").status_code == 403
