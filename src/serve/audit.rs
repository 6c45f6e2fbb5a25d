//! The append-only audit log: one JSON line per decision (time, route, the metered request's
//! canonical method and path, nonce, outcome, cost, a digest of the request id, the
//! request's `X-Request-Id`). Never a
//! signature, a token or a key.
//!
//! A request never waits for the disk: [`Audit::record`] formats its line and hands it to a
//! writer thread of its own through a bounded queue ([`QUEUED`] lines). A disk that stalls
//! long enough to fill the queue costs lines, never requests: each line dropped is counted
//! (`crumb_audit_dropped_total`) and reported in the server's log. [`Audit::reopen`] (on
//! SIGHUP) makes the writer open the path again after the lines queued before it, for
//! logrotate's rename-then-signal.

use serde_json::json;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;

/// How many lines may wait for the writer before new ones are dropped.
pub const QUEUED: usize = 16 * 1024;

pub struct Audit {
    queue: SyncSender<Job>,
    /// Keys the request-id digests: whoever reads the log cannot test guessed ids against them.
    digest_key: zeroize::Zeroizing<[u8; 32]>,
    /// Lines dropped because the queue was full.
    dropped: Arc<AtomicU64>,
}

enum Job {
    Line(String),
    Reopen,
}

pub struct Entry<'a> {
    pub route: &'a str,
    /// The metered request's canonical method and path (never its query).
    pub request: Option<&'a str>,
    pub nonce: Option<String>,
    pub outcome: &'a str,
    pub cost: Option<u64>,
    pub request_id: Option<&'a str>,
}

/// Opens `path` for appending, created 0600. Only a regular file: not through a symbolic
/// link (whose target someone else chose), and never a FIFO or a device, whose writes could
/// block the writer for good (opened without blocking, then refused).
fn open_append(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file.metadata()?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), mode = format!("{:o}", mode & 0o777), "the audit log is readable by others: chmod 600 it");
        }
    }
    Ok(file)
}

impl Audit {
    /// Opens (appends to) the log at `path` and starts its writer; request ids are logged as
    /// HMACs under `digest_key` (derive it from the root key, so replicas agree and readers
    /// cannot guess). Fails when the file cannot be opened: a server that was asked to keep
    /// an audit log does not start without one.
    pub fn open(path: &Path, digest_key: [u8; 32]) -> std::io::Result<Self> {
        let file = open_append(path)?;
        let (queue, jobs) = sync_channel::<Job>(QUEUED);
        let path: PathBuf = path.to_owned();
        let dropped: Arc<AtomicU64> = Arc::default();
        let lost = dropped.clone();
        std::thread::Builder::new().name("crumb-audit".into()).spawn(move || {
            let mut file = file;
            for job in jobs {
                match job {
                    // One write per line with O_APPEND: lines never interleave, even with
                    // another process appending.
                    Job::Line(line) => {
                        if let Err(err) = file.write_all(line.as_bytes()) {
                            // A line not written is a line lost: counted like a dropped one.
                            lost.fetch_add(1, Ordering::Relaxed);
                            tracing::error!(error = %err, "cannot write the audit log");
                        }
                    }
                    Job::Reopen => match open_append(&path) {
                        Ok(reopened) => {
                            file = reopened;
                            tracing::info!(file = %path.display(), "audit log reopened");
                        }
                        Err(err) => tracing::error!(
                            file = %path.display(),
                            error = %err,
                            "cannot reopen the audit log: writing on to the file open before"
                        ),
                    },
                }
            }
        })?;
        Ok(Audit { queue, digest_key: zeroize::Zeroizing::new(digest_key), dropped })
    }

    /// A request id as the log names it: 16 hex digits of its HMAC under the digest key.
    fn digest(&self, request_id: &str) -> String {
        hex::encode(&crumb::token::chain::hmac_secret(&self.digest_key[..], request_id.as_bytes())[..8])
    }

    /// Queues the entry's line; never waits (a full queue drops it, counted).
    pub fn record(&self, e: Entry<'_>) {
        let now = time::OffsetDateTime::now_utc();
        let line = json!({
            "time": now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            "route": e.route,
            "request": e.request,
            "nonce": e.nonce,
            "outcome": e.outcome,
            "cost": e.cost,
            // A request id entitles a retry to its successor: the log keeps a digest of it, which
            // tells requests apart and answers nothing.
            "request_id": e.request_id.map(|id| self.digest(id)),
            // The request's X-Request-Id, to find its log lines.
            "x_request_id": super::request_id::current(),
        });
        match self.queue.try_send(Job::Line(format!("{line}\n"))) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                // Said once per power of two, not once per line: a stalled disk must not also
                // flood the server's own log.
                if dropped.is_power_of_two() {
                    tracing::error!(dropped, "the audit log is not keeping up: lines dropped");
                }
            }
        }
    }

    /// Opens the log's path again once the lines queued so far are written (logrotate renames
    /// the file, then signals). Never waits.
    pub fn reopen(&self) {
        if self.queue.try_send(Job::Reopen).is_err() {
            tracing::error!("the audit log is not keeping up: not reopened; send SIGHUP again");
        }
    }

    /// Lines dropped so far because the writer could not keep up.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}
