from django.conf import settings
from django.http import HttpRequest


def school(request: HttpRequest) -> dict[str, str]:
    return {"school_name": settings.HARMONY_SCHOOL_NAME}
