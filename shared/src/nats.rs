//! Our own NATS core client: being written.
