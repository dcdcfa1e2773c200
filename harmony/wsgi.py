import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "harmony.settings")
application = get_wsgi_application()

# Load every view now rather than at the first request, then keep all that lives as long as the process out of
# the garbage collector's full passes, which otherwise walk it again and again while a large request (a sync
# batch of thousands of records) allocates.
from django.urls import get_resolver  # noqa: E402

get_resolver().url_patterns  # noqa: B018
gc.freeze()
