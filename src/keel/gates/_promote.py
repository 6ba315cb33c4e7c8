"""Promotion through a policy, forced promotion, rollback and alias deletion.

A promotion is two steps: :func:`check_promotion` reads the alias (its holder and
revision) and evaluates every check into a :class:`GateResult`; :func:`apply_promotion`
then moves the alias in one transaction, only if its revision is unchanged (optimistic
concurrency): when two promotions race, one wins and the other gets a ``ConflictError``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keel._clock import now_ms
from keel.context import Context, current_context
from keel.errors import ConflictError, InvalidArgumentError, NotFoundError
from keel.gates._checks import GateContext, evaluate_check
from keel.gates._policy import Policy, load_policy
from keel.store import (
    Alias,
    GateResult,
    ModelStateError,
    ModelVersion,
    ModelVersionStatus,
    ServiceGateway,
    from_wire,
    to_wire,
)
from keel.store._registry import check_alias_name

__all__ = [
    "PromotionOutcome",
    "PromotionPlan",
    "PromotionRejectedError",
    "apply_promotion",
    "check_promotion",
    "delete_alias",
    "promote",
    "rollback",
]


class PromotionRejectedError(ConflictError):
    """A promotion's checks failed (raised by the CLI; the SDK returns the outcome)."""

    code = "PROMOTION_REJECTED"
    http_status = 409


@dataclass(frozen=True, slots=True)
class PromotionPlan:
    """A checked promotion, not yet applied.

    Attributes:
        candidate: the version to promote.
        alias: the alias to move.
        holder: the version holding the alias when checked (``None`` if unset).
        expected_revision: the alias revision seen (0 when it did not exist).
        gate: the evaluated gate result (``None`` for a no-op).
    """

    candidate: ModelVersion
    alias: str
    holder: int | None
    expected_revision: int
    gate: GateResult | None

    @property
    def noop(self) -> bool:
        """Whether the candidate already holds the alias."""
        return self.holder == self.candidate.version


@dataclass(frozen=True, slots=True)
class PromotionOutcome:
    """What a promotion did: ``promoted``, ``forced``, ``rejected`` or ``noop``."""

    status: str
    name: str
    version: int
    alias: str
    message: str
    gate: GateResult | None = None
    previous: int | None = None

    @property
    def moved(self) -> bool:
        """Whether the alias now points to the version because of this call."""
        return self.status in ("promoted", "forced")


def _gateway(ctx: Context) -> ServiceGateway | None:
    """The server that must judge this promotion, when the store is one's client.

    A verdict reached here could not be trusted by a keel server: against a REST store
    the whole call runs there, as the authenticated user (docs/decisions.md, issue 10).
    """
    store = ctx.store
    return store if isinstance(store, ServiceGateway) else None


def _remote(gateway: ServiceGateway, service: str, **arguments: Any) -> PromotionOutcome:
    outcome: PromotionOutcome = from_wire(
        PromotionOutcome, gateway.call_service(service, arguments), service
    )
    return outcome


def _as_policy(policy: Policy | str | Path | None) -> Policy:
    if policy is None:
        return Policy((), name="none", source="<none>")
    if isinstance(policy, Policy):
        return policy
    return load_policy(policy)


def _current(ctx: Context, name: str, alias: str, *, audited: bool = True) -> Alias | None:
    try:
        current: Alias = ctx.store.registry.get_alias(name, alias)
    except NotFoundError:
        ctx.store.registry.get_model(name)  # a missing model is still an error
        return None
    if audited:
        from keel.governance import check_alias

        check_alias(ctx.store, current)
    return current


def _candidate(ctx: Context, model: str, version: int | None) -> tuple[str, int]:
    """``(name, number)`` from ``"iris/3"``, ``"iris@challenger"`` or ``("iris", 3)``."""
    from keel.registry import parse_model_ref, resolve_version

    if version is not None:
        if isinstance(model, str) and ("/" in model or "@" in model):
            raise InvalidArgumentError(
                f"give a model reference ({model!r}) or a name and a version, not both"
            )
        return model, int(version)
    ref = parse_model_ref(model) if "/" in model or "@" in model else None
    if ref is None:
        raise InvalidArgumentError(
            f"which version of {model!r}? Give a reference such as {model}/3 or "
            f"{model}@challenger (see docs/concepts/references.md)"
        )
    if ref.version is not None:
        return ref.name, ref.version
    return ref.name, resolve_version(ctx.store, ref).version


def check_promotion(
    name: str,
    version: int | None,
    to: str,
    policy: Policy | str | Path | None,
    *,
    force: bool = False,
    context: Context | None = None,
) -> PromotionPlan:
    """Evaluate every check of ``policy`` for promoting a version to the alias ``to``.

    Args:
        name: the model's name, or a reference (``iris/3``, ``iris@challenger``) with
            ``version`` ``None``.
        version: the version number (``None`` when ``name`` is a reference).
        to: the alias to move.
        policy: a :class:`Policy`, a policy file, or ``None`` for no checks.
        force: the plan is for a forced promotion: the alias may disagree with its audit
            events (forcing the audited version back is how an admin restores it).
        context: where, and who acts (:func:`keel.context.current_context` by default).

    Raises:
        NotFoundError: the model or version does not exist (lists what does).
        ModelStateError: the version is archived.
        PolicyError: the policy file is malformed.
        AuditMismatchError: the alias was moved behind keel's back (unless ``force``).
    """
    ctx = context or current_context()
    check_alias_name(to)
    parsed = _as_policy(policy)
    name, number = _candidate(ctx, name, version)
    candidate = ctx.store.registry.get_version(name, number)
    if candidate.status is not ModelVersionStatus.READY:
        raise ModelStateError(
            f"version {candidate.version} of {name!r} is archived; archived versions cannot be "
            "promoted or served"
        )
    current = _current(ctx, name, to, audited=not force)
    holder = None if current is None else current.version
    revision = 0 if current is None else current.revision
    if holder == candidate.version:
        return PromotionPlan(candidate, to, holder, revision, None)
    gate_context = GateContext(
        context=ctx,
        candidate=candidate,
        alias=to,
        holder=None if holder is None else ctx.store.registry.get_version(name, holder),
    )
    checks = tuple(evaluate_check(c, gate_context) for c in parsed.checks)
    gate = GateResult(
        id=uuid.uuid4().hex,
        name=name,
        version=candidate.version,
        alias=to,
        passed=all(c.passed for c in checks),
        checks=checks,
        policy=parsed.to_dict(),
        created_at=now_ms(),
        actor=ctx.actor,
    )
    return PromotionPlan(candidate, to, holder, revision, gate)


def apply_promotion(
    plan: PromotionPlan,
    *,
    force: bool = False,
    reason: str | None = None,
    context: Context | None = None,
) -> PromotionOutcome:
    """Move the alias if the gate passed (or ``force`` by an admin); record the outcome.

    Args:
        plan: what :func:`check_promotion` returned.
        force: move the alias even though checks failed (admins only).
        reason: why (required with ``force``; audited).
        context: where, and who acts (:func:`keel.context.current_context` by default).

    Raises:
        ConflictError: the alias moved since the plan was checked.
        PermissionDeniedError: ``force`` by a user who is not an admin.
    """
    ctx = context or current_context()
    name, number, alias = plan.candidate.name, plan.candidate.version, plan.alias
    if plan.noop:
        return PromotionOutcome(
            "noop",
            name,
            number,
            alias,
            f"version {number} already holds {name}@{alias}; nothing to do",
        )
    assert plan.gate is not None
    gate = plan.gate
    if force:
        from keel.governance import require_admin

        if not reason or not reason.strip():
            raise InvalidArgumentError('a forced promotion needs a reason: --reason "..."')
        actor = require_admin(f"forcing a promotion of {name}/{number}", context=ctx)
        gate = GateResult(
            gate.id,
            gate.name,
            gate.version,
            gate.alias,
            gate.passed,
            gate.checks,
            gate.policy,
            gate.created_at,
            actor,
            forced=True,
            reason=reason,
        )
        ctx.store.registry.move_alias(
            name, alias, number, plan.expected_revision, "force_promote", actor, reason, gate
        )
        failed = ", ".join(c.check for c in gate.failed_checks) or "none"
        return PromotionOutcome(
            "forced",
            name,
            number,
            alias,
            f"forced {name}/{number} to @{alias} (failed checks: {failed}); reason: {reason}",
            gate,
            plan.holder,
        )
    if not gate.passed:
        ctx.store.registry.record_gate_result(gate)
        failed = "; ".join(f"{c.check}: {c.detail}" for c in gate.failed_checks)
        return PromotionOutcome(
            "rejected",
            name,
            number,
            alias,
            f"{name}/{number} was not promoted to @{alias}: {failed}",
            gate,
            plan.holder,
        )
    ctx.store.registry.move_alias(
        name, alias, number, plan.expected_revision, "promote", gate.actor, reason, gate
    )
    before = f" (was version {plan.holder})" if plan.holder is not None else ""
    return PromotionOutcome(
        "promoted",
        name,
        number,
        alias,
        f"{name}@{alias} now points to version {number}{before}; "
        f"{len(gate.checks)} check(s) passed",
        gate,
        plan.holder,
    )


def promote(
    name: str,
    version: int | None = None,
    to: str = "champion",
    policy: Policy | str | Path | None = None,
    *,
    force: bool = False,
    reason: str | None = None,
    context: Context | None = None,
) -> PromotionOutcome:
    """Promote ``name/version`` to an alias through a policy.

    Every check is evaluated and stored as a :class:`GateResult`; the alias moves only
    if all pass. ``force=True`` (admins only, with a ``reason``) moves it anyway; the
    failed checks and the reason are audited. Promoting to an alias the version already
    holds is a no-op that says so.

    Args:
        name: the model, or a reference to the version (``iris/3``, ``iris@challenger``).
        version: the version number to promote (omit it when ``name`` is a reference).
        to: the alias (``champion``, ``challenger``, ...).
        policy: a :class:`Policy` or the path of a policy YAML file (``None``: no checks).
        force: override failing checks (admin only).
        reason: why (required with ``force``).
        context: where, and who acts (:func:`keel.context.current_context` by default).

    Returns:
        A :class:`PromotionOutcome` (``status`` promoted, forced, rejected or noop).

    Raises:
        ConflictError: another promotion moved the alias meanwhile.
        AuditMismatchError: the alias was moved behind keel's back (an admin's forced
            promotion is allowed, to restore it).

    Example::

        >>> out = keel.models.promote("iris/2", to="champion", policy="policy.yaml")
        >>> out.status, [c.verdict for c in out.gate.checks]
        ('promoted', ['pass', 'pass'])
    """
    ctx = context or current_context()
    gateway = _gateway(ctx)
    if gateway is not None:
        parsed = None if policy is None else _as_policy(policy)
        return _remote(
            gateway,
            "promote",
            model=name,
            version=version,
            to=to,
            policy=None if parsed is None else to_wire(parsed),
            force=force,
            reason=reason,
        )
    name, number = _candidate(ctx, name, version)
    if force:
        from keel.governance import require_admin

        if not reason or not reason.strip():
            raise InvalidArgumentError('a forced promotion needs a reason: --reason "..."')
        require_admin(f"forcing a promotion of {name}/{number}", context=ctx)
    plan = check_promotion(name, number, to, policy, force=force, context=ctx)
    return apply_promotion(plan, force=force, reason=reason, context=ctx)


def _holders(history: list[Any]) -> list[int]:
    stack: list[int] = []
    for move in history:
        if move.action == "rollback":
            if stack:
                stack.pop()
        elif move.action == "delete":
            stack = []
        elif move.to_version is not None and (not stack or stack[-1] != move.to_version):
            # A forced move onto the version the stack already ends in (an admin restoring
            # an alias moved behind keel's back) is not a new holder to roll back to.
            stack.append(move.to_version)
    return stack


def _alias_ref(name: str, alias: str | None, default: str | None) -> tuple[str, str]:
    """``(model, alias)`` from ``"iris@champion"`` or ``("iris", "champion")``."""
    if "@" in name:
        model, _, named = name.partition("@")
        if alias is not None and alias != named:
            raise InvalidArgumentError(
                f"{name!r} names alias {named!r} but alias {alias!r} was given too; give one"
            )
        return model, named
    if alias is None and default is None:
        raise InvalidArgumentError(
            f"which alias of {name!r}? Give a reference such as {name}@challenger"
        )
    return name, alias or str(default)


def rollback(
    name: str,
    alias: str | None = None,
    *,
    reason: str | None = None,
    context: Context | None = None,
) -> PromotionOutcome:
    """Move an alias back to the version that held it before the current holder.

    Successive rollbacks walk further back through the alias's history.

    Args:
        name: the alias's reference (``iris@champion``), or the model's name.
        alias: the alias when ``name`` is only the model (default ``champion``).
        reason: why (audited).
        context: where, and who acts (:func:`keel.context.current_context` by default).

    Raises:
        NotFoundError: the alias does not exist.
        ConflictError: it has no previous holder, or it moved meanwhile.
        ModelStateError: the previous holder has been archived.
        AuditMismatchError: the alias was moved behind keel's back.

    Example::

        >>> keel.models.rollback("iris@champion").version
        1
    """
    from keel.errors import ConflictError
    from keel.governance import check_alias

    ctx = context or current_context()
    name, alias = _alias_ref(name, alias, "champion")
    gateway = _gateway(ctx)
    if gateway is not None:
        return _remote(gateway, "rollback", reference=f"{name}@{alias}", reason=reason)
    registry = ctx.store.registry
    current = registry.get_alias(name, alias)
    check_alias(ctx.store, current)
    stack = _holders(registry.alias_history(name, alias))
    if len(stack) < 2 or stack[-1] != current.version:
        raise ConflictError(
            f"{name}@{alias} (version {current.version}) has no previous holder to roll back "
            f"to; promote a version instead (keel models promote {name}/N --to {alias})"
        )
    target = stack[-2]
    registry.move_alias(name, alias, target, current.revision, "rollback", ctx.actor, reason)
    return PromotionOutcome(
        "rolled_back",
        name,
        target,
        alias,
        f"{name}@{alias} rolled back from version {current.version} to version {target}",
        None,
        current.version,
    )


def delete_alias(
    name: str,
    alias: str | None = None,
    *,
    reason: str | None = None,
    context: Context | None = None,
) -> None:
    """Delete an alias (admins only; audited): ``delete_alias("iris@challenger")``.

    An alias moved behind keel's back can be deleted too (it is how an admin clears it).

    Args:
        name: the alias's reference (``iris@challenger``), or the model's name.
        alias: the alias when ``name`` is only the model.
        reason: why (audited).
        context: where, and who acts (:func:`keel.context.current_context` by default).
    """
    from keel.governance import require_admin

    ctx = context or current_context()
    name, alias = _alias_ref(name, alias, None)
    gateway = _gateway(ctx)
    if gateway is not None:
        gateway.call_service("delete_alias", {"reference": f"{name}@{alias}", "reason": reason})
        return
    actor = require_admin(f"deleting {name}@{alias}", context=ctx)
    current = ctx.store.registry.get_alias(name, alias)
    ctx.store.registry.delete_alias(name, alias, current.revision, actor, reason)
