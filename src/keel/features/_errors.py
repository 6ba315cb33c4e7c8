"""Errors of the feature store: each says what is wrong and what to do."""

from __future__ import annotations

from keel.errors import InvalidArgumentError, NotFoundError

__all__ = [
    "FeatureDefinitionError",
    "FeatureNotFoundError",
    "FeatureRequestError",
    "FeatureSourceError",
]


class FeatureDefinitionError(InvalidArgumentError):
    """A declaration is malformed (the message names the file and line) or inconsistent
    (a view naming an entity that does not exist, a service naming a missing feature)."""

    code = "INVALID_FEATURE_DEFINITION"
    http_status = 400


class FeatureSourceError(InvalidArgumentError):
    """A view's source cannot give what the view declares: a missing timestamp, key or
    feature column, timestamps in mixed time zones or that do not parse."""

    code = "INVALID_FEATURE_SOURCE"
    http_status = 400


class FeatureRequestError(InvalidArgumentError):
    """A request for features cannot be answered as asked: an entity frame without its
    event-time or key columns, the same feature name from two views, ..."""

    code = "INVALID_FEATURE_REQUEST"
    http_status = 400


class FeatureNotFoundError(NotFoundError):
    """A view, feature or service that is not registered (the message lists those that are)."""

    code = "FEATURE_NOT_FOUND"
    http_status = 404
