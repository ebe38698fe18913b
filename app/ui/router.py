"""The review console: server-rendered pages under /console, behind a login with an analyst or admin key.

Pages call the same services as the API, so a verdict given here is the verdict the API records,
audited under the logged-in key. Every POST form carries the session's CSRF token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from app.audit import repository as audit
from app.auth.service import Principal, Role, authenticate
from app.config import Settings
from app.db import SessionDep
from app.errors import AppError, Forbidden, NotFound
from app.review import casefile, export, metrics, repository, service, webhooks
from app.review.evidence_repository import ACTIVITY_ACCOUNTS
from app.review.repository import QUEUE_STATUSES, QueueFilter
from app.review.router import wake_deliverer
from app.review.schemas import VERDICTS, ExportFormat
from app.ui import session as sessions
from app.ui import svg
from app.ui.templating import templates

STATIC_DIR = Path(__file__).parent / "static"
PAGE_SIZE = 50
VERDICT_WORDS = {"confirmed": "confirmed", "dismissed": "dismissed", "escalated": "escalated"}

router = APIRouter(prefix="/console", include_in_schema=False)


def console_user(request: Request, db: SessionDep) -> Principal:
    principal = sessions.principal(db=db, session=sessions.load(request))
    if principal is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        # a redirect, not a 401: this is a browser page; the error handler keeps the Location header
        raise HTTPException(303, "log in first", headers={"Location": f"/console/login?next={quote(target)}"})
    request.state.principal = principal
    return principal


ConsoleUser = Annotated[Principal, Depends(console_user)]


def csrf_checked(request: Request, csrf_token: Annotated[str, Form()] = "") -> None:
    if not sessions.csrf_ok(sessions.load(request), csrf_token):
        raise Forbidden("the form expired or did not come from this console; reload the page and try again")


CsrfChecked = Depends(csrf_checked)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    current = sessions.load(request)
    context = {"csrf": current.csrf, "user": getattr(request.state, "principal", None), "flash": current.flash,
               **context}  # fmt: skip
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    if current.flash is not None or sessions.is_new(request):
        sessions.save(request, response, current.with_flash(None))
    return response


def redirect(request: Request, url: str, *, flash: str | None = None) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    if flash is not None:
        sessions.save(request, response, sessions.load(request).with_flash(flash))
    return response


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/console") and "//" not in target and "\\" not in target else (
        "/console")  # fmt: skip


# ---- login -----------------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, db: SessionDep, next: str | None = None) -> Response:
    if sessions.principal(db=db, session=sessions.load(request)) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login", response_class=HTMLResponse, dependencies=[CsrfChecked])
def login(
    request: Request, db: SessionDep, api_key: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/console"
) -> Response:
    try:
        principal = authenticate(session=db, raw_key=api_key.strip())
    except AppError:
        return render(request, "login.html", {"next": _safe_next(next), "error": "That key is not valid."}, 401)
    if principal.role not in sessions.CONSOLE_ROLES:
        error = f"An {principal.role.value} key cannot open the console; use an analyst or admin key."
        return render(request, "login.html", {"next": _safe_next(next), "error": error}, 403)
    audit.append(session=db, actor=principal.actor, action="console.login", target_type="api_key",
                 target_id=str(principal.key_id))  # fmt: skip
    response = RedirectResponse(_safe_next(next), status_code=303)
    sessions.save(request, response, sessions.load(request).logged_in(principal.key_id))
    return response


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request, db: SessionDep) -> Response:
    principal = sessions.principal(db=db, session=sessions.load(request))
    if principal is not None:
        audit.append(session=db, actor=principal.actor, action="console.logout", target_type="api_key",
                     target_id=str(principal.key_id))  # fmt: skip
    response = RedirectResponse("/console/login", status_code=303)
    sessions.clear(response)
    return response


# ---- queue -----------------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def queue_page(
    request: Request,
    user: ConsoleUser,
    db: SessionDep,
    status: str | None = None,
    min_score: Annotated[str, Query()] = "",
    min_size: Annotated[str, Query()] = "",
    assignee: str = "",
    q: str = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    status = status if status in QUEUE_STATUSES else ("all" if q.strip() else "queue")
    who = {"": None, "me": user.name, "none": ""}.get(assignee, assignee)
    filters = QueueFilter(status=status, min_score=_number(min_score, float, 0, 1),
                          min_size=_number(min_size, int, 0, 10**9), assignee=who)  # fmt: skip
    items, total = service.queue(session=db, filters=filters, search=q, limit=PAGE_SIZE,
                                 offset=(page - 1) * PAGE_SIZE)  # fmt: skip
    counts = {
        "queue": repository.count(session=db, filters=QueueFilter(status="queue")),
        "escalated": repository.count(session=db, filters=QueueFilter(status="escalated")),
        "mine": repository.count(session=db, filters=QueueFilter(status="queue", assignee=user.name)),
        "confirmed": repository.count(session=db, filters=QueueFilter(status="confirmed")),
    }
    params = {"status": status, "min_score": min_score, "min_size": min_size, "assignee": assignee, "q": q}
    account_hit = q.strip() if q.strip() and casefile.account_exists(session=db, account_id=q.strip()) else None
    return render(request, "queue.html", {
        "items": items, "total": total, "page": page, "pages": max(1, -(-total // PAGE_SIZE)), "counts": counts,
        "params": params, "statuses": QUEUE_STATUSES, "account_hit": account_hit,
        "page_url": lambda n: "/console?" + urlencode({**params, "page": n}),
    })  # fmt: skip


def _number(text: str, kind: type, low: float, high: float) -> Any:
    try:
        value = kind(text)
    except ValueError:
        return None
    return value if low <= value <= high else None


# ---- cluster ---------------------------------------------------------------------------------------


@router.get("/clusters/{cluster_id}", response_class=HTMLResponse)
def cluster_page(request: Request, cluster_id: str, user: ConsoleUser, db: SessionDep) -> Response:
    try:
        case = casefile.cluster_case(session=db, cluster_id=cluster_id, retention=_settings(request).prompt_retention)
    except NotFound:
        return render(request, "missing.html", {"what": f"cluster {cluster_id}"}, 404)
    charts = {
        "heatmap_cluster": svg.heatmap(case.activity, which="cluster") if case.activity else None,
        "heatmap_population": svg.heatmap(case.activity, which="population") if case.activity else None,
        "timeline": svg.timeline(case.activity) if case.activity else None,
        "capabilities": svg.bars(case.capabilities, kind="capabilities") if case.capabilities else None,
        "topics": svg.bars(case.topics, kind="topics") if case.topics else None,
        "graph": svg.graph(case.graph) if case.graph.nodes else None,
    }
    return render(request, "cluster.html", {"case": case, "charts": charts, "verdicts": VERDICTS,
                                            "risk_colour": svg.risk_colour,
                                            "activity_accounts": ACTIVITY_ACCOUNTS})  # fmt: skip


@router.post("/clusters/{cluster_id}/review", dependencies=[CsrfChecked])
def review(
    request: Request, cluster_id: str, user: ConsoleUser, db: SessionDep, background: BackgroundTasks,
    verdict: Annotated[str, Form()], note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:  # fmt: skip
    if verdict not in VERDICTS:
        return redirect(request, f"/console/clusters/{quote(cluster_id)}", flash=f"Unknown verdict {verdict!r}.")
    service.review_cluster(
        session=db, cluster_id=cluster_id, verdict=verdict, note=note, principal=user,
        webhook_urls=webhooks.webhook_targets(_settings(request)),
    )  # fmt: skip
    background.add_task(wake_deliverer, request.app)
    metrics.count_verdict(request.app, verdict)
    return redirect(request, "/console", flash=f"Cluster {cluster_id} {VERDICT_WORDS[verdict]}.")


@router.post("/clusters/{cluster_id}/assign", dependencies=[CsrfChecked])
def assign(
    request: Request, cluster_id: str, user: ConsoleUser, db: SessionDep, assignee: Annotated[str, Form()] = "me"
) -> Response:
    cluster = service.assign_cluster(session=db, cluster_id=cluster_id, assignee=assignee, principal=user)
    message = f"Assigned to {cluster.assignee}." if cluster.assignee else "Unassigned."
    return redirect(request, f"/console/clusters/{quote(cluster_id)}", flash=message)


# ---- accounts, exports, webhooks ---------------------------------------------------------------------


@router.get("/accounts/{account_id:path}", response_class=HTMLResponse)
def account_page(request: Request, account_id: str, user: ConsoleUser, db: SessionDep) -> Response:
    try:
        case = casefile.account_case(session=db, account_id=account_id, retention=_settings(request).prompt_retention)
    except NotFound:
        return render(request, "missing.html", {"what": f"account {account_id}"}, 404)
    return render(request, "account.html", {"case": case, "risk_colour": svg.risk_colour})


@router.get("/exports/confirmed.{format}")
def export_confirmed(format: ExportFormat, user: ConsoleUser, db: SessionDep) -> Response:
    return export.response(service.export_confirmed(session=db, format=format, principal=user), format)


def _admin(user: Principal) -> None:
    if user.role != Role.admin:
        raise Forbidden("the webhook log needs an admin key")


@router.get("/webhooks", response_class=HTMLResponse)
def webhooks_page(request: Request, user: ConsoleUser, db: SessionDep) -> Response:
    _admin(user)
    settings = _settings(request)
    return render(request, "webhooks.html", {
        "deliveries": webhooks.list_deliveries(session=db, limit=200), "urls": settings.webhook_urls,
        "signed": bool(settings.webhook_secret),
    })  # fmt: skip


@router.post("/webhooks/{delivery_id}/retry", dependencies=[CsrfChecked])
def webhook_retry(
    request: Request, delivery_id: int, user: ConsoleUser, db: SessionDep, background: BackgroundTasks
) -> Response:
    _admin(user)
    if webhooks.retry_now(session=db, delivery_id=delivery_id) is None:
        raise NotFound(f"no webhook delivery {delivery_id}")
    audit.append(session=db, actor=user.actor, action="webhook.retry", target_type="webhook_delivery",
                 target_id=str(delivery_id))  # fmt: skip
    background.add_task(wake_deliverer, request.app)
    return redirect(request, "/console/webhooks", flash=f"Delivery {delivery_id} queued again.")


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=STATIC_DIR), name="console-static")
    app.add_api_route("/", lambda: RedirectResponse("/console", status_code=307), include_in_schema=False)
