"""Organisations (DESIGN 16): who belongs where, which edges are whose, and what a
user's access token may name.

The cloud learns a user's organisations through the access token's ``edges`` claim,
as it learned the grants before: the auth service resolves organisations, roles and
grants into the edge ids the user may see, so the cloud's one check
(``Claims.may_access``) isolates organisations too, and revocation works as before
(a membership or an edge's organisation changing forces the members' refresh).
Only superusers (global role ``admin``) get ``["*"]``; and ``*`` grants resolve to
the organisations' edges unless only one organisation exists (nothing to isolate).

Synchronous (Django ORM); needs :func:`ems.authsvc.configure` first.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ems.authsvc.errors import OrganisationExists, UnknownOrganisation
from ems.authsvc.identity import EDGE_ID_RE, Role, check_edge_id, check_role

if TYPE_CHECKING:
    from ems.authsvc.models import Organisation, User

__all__ = [
    "add_member",
    "check_org_name",
    "create_org",
    "edge_claim",
    "edge_organisation",
    "org_names",
    "set_edge_organisation",
]

log = logging.getLogger(__name__)

_RANK = {Role.VIEWER.value: 0, Role.OPERATOR.value: 1, Role.ADMIN.value: 2}


def check_org_name(name: str) -> str:
    if not isinstance(name, str) or EDGE_ID_RE.fullmatch(name) is None:
        raise UnknownOrganisation(
            f"organisation {name!r}: 1-63 lowercase letters, digits or '-', "
            "starting with a letter or digit"
        )
    return name


def org_names() -> list[str]:
    from ems.authsvc.models import Organisation

    return [str(n) for n in Organisation.objects.values_list("name", flat=True)]


def create_org(name: str) -> None:
    """Create organisation ``name``; :class:`OrganisationExists` when taken."""
    from ems.authsvc.models import Organisation

    check_org_name(name)
    _, created = Organisation.objects.get_or_create(name=name)
    if not created:
        raise OrganisationExists(f"organisation {name!r} already exists")
    log.info("organisation %s created", name)


def organisation(name: str) -> Organisation:
    from ems.authsvc.models import Organisation

    found: Organisation | None = Organisation.objects.filter(name=check_org_name(name)).first()
    if found is None:
        raise UnknownOrganisation(f"no organisation {name!r}")
    return found


def default_name() -> str:
    """``default``, created when missing (a database migrated before it was seeded)."""
    from ems.authsvc.models import DEFAULT_ORGANISATION, Organisation

    Organisation.objects.get_or_create(name=DEFAULT_ORGANISATION)
    return DEFAULT_ORGANISATION


def add_member(user: User, org_name: str, role: str) -> None:
    """``user`` joins ``org_name`` with ``role`` (or changes role there); the user's
    open sessions get the new claims at their next refresh, which this forces."""
    from ems.authsvc import revocation
    from ems.authsvc.models import Membership

    role = check_role(role).value
    Membership.objects.update_or_create(
        user=user, organisation=organisation(org_name), defaults={"role": role}
    )
    user.save()  # staff follows an admin membership
    revocation.claims_changed(user)


def edge_organisation(edge_id: str) -> str:
    """The organisation owning ``edge_id`` (``default`` when none was recorded)."""
    from ems.authsvc.models import DEFAULT_ORGANISATION, EdgeOwner

    owner = EdgeOwner.objects.filter(edge_id=edge_id).select_related("organisation").first()
    return DEFAULT_ORGANISATION if owner is None else str(owner.organisation.name)


def set_edge_organisation(edge_id: str, org_name: str) -> None:
    """Record that ``edge_id`` belongs to ``org_name``; members of the old and new
    organisation get new claims at their next refresh."""
    from ems.authsvc import revocation
    from ems.authsvc.models import EdgeOwner, User

    check_edge_id(edge_id)
    org = organisation(org_name)
    before = edge_organisation(edge_id)
    EdgeOwner.objects.update_or_create(edge_id=edge_id, defaults={"organisation": org})
    if before != org.name:
        for user in User.objects.filter(memberships__organisation__name__in=[before, org.name]):
            revocation.claims_changed(user)


def claim_role(user: User) -> str:
    """The ``role`` claim: the global role of a superuser, else the highest role the
    user has in any organisation (the ``view`` claim narrows it per edge)."""
    if user.role == Role.ADMIN.value:
        return Role.ADMIN.value
    roles = [str(r) for r in user.memberships.values_list("role", flat=True)]
    return max(roles, key=_RANK.__getitem__) if roles else str(user.role)


def edge_claim(user: User) -> tuple[list[str], list[str]]:
    """The ``edges`` claim (``["*"]``: every edge) and the ``view`` claim (edges where
    the user's role is ``viewer`` although the token's role is higher) of ``user``."""
    from ems.authsvc.models import ALL_EDGES, DEFAULT_ORGANISATION, EdgeOwner, Organisation

    if user.role == Role.ADMIN.value:
        return [ALL_EDGES], []
    roles = {str(o): str(r) for o, r in user.memberships.values_list("organisation__name", "role")}
    if not roles:  # in no organisation: nothing to see
        return [], []
    granted = {str(e) for e in user.grants.values_list("edge_id", flat=True)}
    if ALL_EDGES in granted and Organisation.objects.exclude(name__in=roles).count() == 0:
        return [ALL_EDGES], []  # one organisation only: nothing to isolate
    owners = {
        str(e): str(o) for e, o in EdgeOwner.objects.values_list("edge_id", "organisation__name")
    }
    visible: dict[str, str] = {}
    for edge_id, org in owners.items():
        role = roles.get(org)
        if role is not None and (
            role == Role.ADMIN.value or ALL_EDGES in granted or edge_id in granted
        ):
            visible[edge_id] = role
    default_role = roles.get(DEFAULT_ORGANISATION)
    if default_role is not None:  # granted edges nobody recorded belong to default
        for edge_id in granted - {ALL_EDGES} - owners.keys():
            visible[edge_id] = default_role
    top = claim_role(user)
    view = sorted(e for e, r in visible.items() if r == Role.VIEWER.value and top != r)
    return sorted(visible), view
