"""The admin's ``ems auth import-edges``: upload the CSV, get the keys once.

The same checks as the command (:func:`ems.authsvc.provision.import_edges_text`),
all or nothing: a refused file lists every problem (line, column, reason code)
and changes nothing. An organisation admin imports into the organisations they
administer; a row naming another is ``unknown_organisation``, as if it did not
exist. A superuser imports into any.

The keys are in the one response to the upload, on the page and as a download
of that page's own data (a ``data:`` link), marked ``no-store``: the plaintext
is kept nowhere on the server, so it cannot be shown or downloaded again.
"""

from __future__ import annotations

import base64
import functools
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import reverse

from ems.authsvc.admin_scope import admin_org_ids
from ems.authsvc.edgecsv import COLUMNS, OPTIONAL_COLUMNS, ImportRefused, Problem

__all__ = ["MAX_UPLOAD_BYTES", "upload_view"]

#: Largest CSV taken [bytes]: some 10 000 edges.
MAX_UPLOAD_BYTES = 2 * 1024 * 1024

_FORM = """{% extends "admin/base_site.html" %}
{% block content %}
<h1>Import edges from a CSV</h1>
<p>Columns (header on line 1): <code>{{ columns }}</code>, optionally
<code>{{ optional }}</code>. Organisations you may import into:
<code>{{ organisations }}</code>. All or nothing: one bad line refuses the file.</p>
{% if problems %}
<p class="errornote">{{ refused }}, nothing imported:</p>
<ul class="errorlist" id="problems">
{% for p in problems %}<li>line {{ p.line }}{% if p.column %}, column {{ p.column }}{% endif %}:
<code>{{ p.reason }}</code>: {{ p.detail }}</li>{% endfor %}
</ul>
{% endif %}
<form method="post" enctype="multipart/form-data">{% csrf_token %}
{{ form.as_p }}
<input type="submit" value="Import">
</form>
{% endblock %}"""

_DONE = """{% extends "admin/base_site.html" %}
{% block content %}
<h1>Imported {{ result.edges }} edge(s) on {{ result.sites }} site(s)</h1>
<p>Copy or download the keys now. They are not stored and cannot be shown again.</p>
<p><a id="download" download="edge-keys.csv"
  href="data:text/csv;base64,{{ keys_b64 }}">Download edge-keys.csv</a></p>
<pre id="keys" style="user-select: all">{{ result.keys_csv }}</pre>
<p><a href="{{ back }}">Back to the provisioned edges</a></p>
{% endblock %}"""


class UploadForm(forms.Form):
    file = forms.FileField(label="Edges CSV", help_text="UTF-8, as for ems auth import-edges")


@functools.cache
def _template(text: str) -> Any:
    return engines["django"].from_string(text)


def _organisations(request: HttpRequest) -> list[str]:
    from ems.authsvc import orgs
    from ems.authsvc.models import Organisation

    org_ids = admin_org_ids(request)
    if org_ids is None:
        return orgs.org_names()
    return sorted(Organisation.objects.filter(pk__in=org_ids).values_list("name", flat=True))


def upload_view(request: HttpRequest, admin_context: dict[str, Any]) -> HttpResponse:
    """GET: the form. POST: import, then the keys once (or the problems, status 400)."""
    from ems.authsvc.provision import import_edges_text

    organisations = _organisations(request)
    context: dict[str, Any] = {
        **admin_context,
        "title": "Import edges",
        "columns": ",".join(COLUMNS),
        "optional": ",".join(OPTIONAL_COLUMNS),
        "organisations": ", ".join(organisations) or "(none)",
    }
    if request.method != "POST":
        context["form"] = UploadForm()
        return HttpResponse(_template(_FORM).render(context, request))
    form = UploadForm(request.POST, request.FILES)
    context["form"] = form
    if not form.is_valid():
        return HttpResponse(_template(_FORM).render(context, request), status=400)
    upload = form.cleaned_data["file"]
    source = str(upload.name)
    try:
        if upload.size > MAX_UPLOAD_BYTES:
            raise ImportRefused(
                source,
                [Problem(1, "", "file_too_large", f"more than {MAX_UPLOAD_BYTES} bytes")],
            )
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ImportRefused(source, [Problem(1, "", "not_utf8", str(exc))]) from None
        result = import_edges_text(text, source, organisations)
    except ImportRefused as exc:
        context["problems"] = exc.problems
        context["refused"] = f"{source} refused"
        return HttpResponse(_template(_FORM).render(context, request), status=400)
    context.update(
        result=result,
        keys_b64=base64.b64encode(result.keys_csv.encode("ascii")).decode("ascii"),
        back=reverse("admin:emsauth_provisionededge_changelist"),
    )
    response = HttpResponse(_template(_DONE).render(context, request))
    response["Cache-Control"] = "no-store"  # the only copy of the keys: never cached
    return response
