//! Executor rules on an injected clock: no sockets, no children, no sleeping.
