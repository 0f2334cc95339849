//! Prometheus metrics in text format.
