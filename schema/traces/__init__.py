"""Traces (server/trace): spans of every release and of anything sent over OTLP,
as lists, trees and critical paths, and live."""

from home_idp.schema.traces.queries import TraceQuery
from home_idp.schema.traces.subscriptions import TraceSubscription

__all__ = ["TraceQuery", "TraceSubscription"]
