//! How many files a service may hold open. Every client connection, upstream connection
//! and database connection is one, and past the limit a listener cannot accept (the
//! connection waits in the backlog until its client gives up) and new connections fail.
//! systemd starts services with a soft limit of 1 024 under a hard one of 524 288 (the
//! soft one stays low for programs that still use `select`); Go raises it at start, Rust
//! does not. A router started that way answered 801 of 1 500 connections held open at
//! once, logging "Too many open files".

/// Raises the soft limit to the hard one, and logs the limit now in force.
pub fn raise_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!(limit, "open files limit"),
        Err(err) => tracing::warn!(%err, "could not raise the open files limit"),
    }
}

#[cfg(test)]
mod tests {
    use rlimit::Resource;

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let (soft, hard) = Resource::NOFILE.get().unwrap();
        let low = soft.min(hard).min(512);
        Resource::NOFILE.set(low, hard).unwrap();
        super::raise_limit();
        assert_eq!(Resource::NOFILE.get().unwrap(), (hard, hard));
    }
}
