"""What an audit event records (``audit_events.action``, ``account_audit_events.action``)."""

from __future__ import annotations

from enum import StrEnum


class AuditAction(StrEnum):
    """Every action the trail holds, as stored; the API shows each by its name (the
    stored text upper-cased, with ``_`` for ``.``)."""

    API_TOKEN_CREATE = "api_token.create"  # noqa: S105 - an action, not a secret
    API_TOKEN_REVOKE = "api_token.revoke"  # noqa: S105 - an action, not a secret
    # Written by the upgrade that keyed the chains, never by a service.
    AUDIT_CHAIN_SEAL = "audit_chain.seal"
    DOMAIN_CLAIM = "domain.claim"
    DOMAIN_REMOVE = "domain.remove"
    DOMAIN_VERIFY = "domain.verify"
    FEEDBACK_PLACE = "feedback.place"
    FEEDBACK_SUBMIT = "feedback.submit"
    HEALTH_RECALCULATE = "health.recalculate"
    HEALTH_SETTINGS_UPDATE = "health_settings.update"
    INGESTION_TOKEN_CREATE = "ingestion_token.create"  # noqa: S105 - an action, not a secret
    INGESTION_TOKEN_REVOKE = "ingestion_token.revoke"  # noqa: S105 - an action, not a secret
    INITIATIVE_CREATE = "initiative.create"
    INITIATIVE_DELETE = "initiative.delete"
    INITIATIVE_UPDATE = "initiative.update"
    INVITATION_ACCEPT = "invitation.accept"
    INVITATION_CREATE = "invitation.create"
    INVITATION_REVOKE = "invitation.revoke"
    JOURNEY_MAP_CREATE = "journey_map.create"
    JOURNEY_MAP_DELETE = "journey_map.delete"
    JOURNEY_MAP_DUPLICATE = "journey_map.duplicate"
    JOURNEY_MAP_PURGE = "journey_map.purge"
    JOURNEY_MAP_RESTORE = "journey_map.restore"
    JOURNEY_MAP_REVIEW = "journey_map.review"
    JOURNEY_MAP_UNDELETE = "journey_map.undelete"
    JOURNEY_MAP_UPDATE = "journey_map.update"
    METRIC_CREATE = "metric.create"
    METRIC_DELETE = "metric.delete"
    METRIC_RECORD = "metric.record"
    METRIC_UPDATE = "metric.update"
    OPPORTUNITY_ADD = "opportunity.add"
    OPPORTUNITY_REMOVE = "opportunity.remove"
    OPPORTUNITY_UPDATE = "opportunity.update"
    ORGANIZATION_CREATE = "organization.create"
    ORGANIZATION_MEMBER_REMOVE = "organization_member.remove"
    PAIN_POINT_ADD = "pain_point.add"
    PAIN_POINT_REMOVE = "pain_point.remove"
    PAIN_POINT_UPDATE = "pain_point.update"
    PERSONA_CREATE = "persona.create"
    PERSONA_DELETE = "persona.delete"
    PERSONA_UPDATE = "persona.update"
    SESSION_SIGN_IN = "session.sign_in"
    SESSION_SIGN_OUT = "session.sign_out"
    SESSION_SIGN_OUT_EVERYWHERE = "session.sign_out_everywhere"
    SSO_CONNECTION_CREATE = "sso_connection.create"
    SSO_CONNECTION_UPDATE = "sso_connection.update"
    STAGE_ADD = "stage.add"
    STAGE_MOVE = "stage.move"
    STAGE_REMOVE = "stage.remove"
    STAGE_UPDATE = "stage.update"
    SURVEY_DEFINITION_CREATE = "survey_definition.create"
    SURVEY_DEFINITION_REVISE = "survey_definition.revise"
    TOUCHPOINT_ADD = "touchpoint.add"
    TOUCHPOINT_MOVE = "touchpoint.move"
    TOUCHPOINT_REMOVE = "touchpoint.remove"
    TOUCHPOINT_UPDATE = "touchpoint.update"
    WORKSPACE_CREATE = "workspace.create"
    WORKSPACE_UPDATE = "workspace.update"
    WORKSPACE_MEMBER_ADD = "workspace_member.add"
    WORKSPACE_MEMBER_REMOVE = "workspace_member.remove"
    WORKSPACE_MEMBER_UPDATE = "workspace_member.update"
    # Read only: a stored action this version does not know (a newer version wrote it
    # during a rolling deploy, or the row was altered, which the chain check reports).
    UNKNOWN = "unknown"

    @classmethod
    def of(cls, stored: str) -> AuditAction:
        """The action a stored text names; UNKNOWN for any other text."""
        try:
            action = cls(stored)
        except ValueError:
            return cls.UNKNOWN
        return action
