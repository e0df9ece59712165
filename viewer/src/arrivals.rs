//! How the backend learns that records were written: the kernel says so (inotify on
//! the directories of the segments it reads), so what a collector appends is read at
//! once, whichever process wrote it, instead of at the next tick of a timer.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustc_hash::FxHashSet;
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::fs::inotify::{self, CreateFlags, WatchFlags};
use rustix::io::Errno;

use crate::snapshot::UiEvent;

/// Tells the backend that segments changed. Cheap to clone; `notify` never blocks,
/// and while the backend has not looked, more notifications cost nothing.
#[derive(Clone, Default)]
pub struct Arrivals(Arc<Shared>);

#[derive(Default)]
struct Shared {
    pending: AtomicBool,
    /// A file or directory appeared: a new segment or run to discover.
    created: AtomicBool,
    /// The backend's event queue, once it runs.
    wake: OnceLock<SyncSender<UiEvent>>,
}

impl std::fmt::Debug for Arrivals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arrivals")
            .field("pending", &self.0.pending.load(Ordering::Relaxed))
            .finish()
    }
}

impl Arrivals {
    /// Something was written: the backend reads it at its next turn, and wakes for it.
    pub fn notify(&self) {
        if !self.0.pending.swap(true, Ordering::AcqRel)
            && let Some(wake) = self.0.wake.get()
        {
            // A full queue means the backend is awake and will see `pending`.
            let _ = wake.try_send(UiEvent::Arrived);
        }
    }

    /// A file or directory was created (a segment, a run): the backend looks for new
    /// ones before it reads.
    pub fn notify_created(&self) {
        self.0.created.store(true, Ordering::Release);
        self.notify();
    }

    /// Whether anything was written since the last call.
    pub(crate) fn take(&self) -> bool {
        self.0.pending.swap(false, Ordering::AcqRel)
    }

    /// Whether anything was created since the last call.
    pub(crate) fn take_created(&self) -> bool {
        self.0.created.swap(false, Ordering::AcqRel)
    }

    pub(crate) fn connect(&self, events: SyncSender<UiEvent>) {
        // Set once, by the one backend these arrivals are for.
        let _ = self.0.wake.set(events);
    }
}

/// Watches directories for segments being written, created or moved in, and notifies
/// `Arrivals`; its thread ends when the watcher is dropped.
pub(crate) struct DirWatcher {
    fd: Arc<OwnedFd>,
    watched: FxHashSet<PathBuf>,
    stop: Arc<AtomicBool>,
}

/// How often the watching thread looks whether it should stop.
const STOP_CHECK: Duration = Duration::from_millis(250);

impl DirWatcher {
    /// Starts the watching thread; `None` (logged) where inotify is not available,
    /// and the backend's slower timer then finds what arrives.
    pub fn start(arrivals: Arrivals) -> Option<Self> {
        let fd = match inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK) {
            Ok(fd) => Arc::new(fd),
            Err(error) => {
                tracing::warn!(%error, "cannot watch for new records; polling instead");
                return None;
            }
        };
        let stop = Arc::new(AtomicBool::new(false));
        let thread_fd = Arc::clone(&fd);
        let thread_stop = Arc::clone(&stop);
        let spawned = std::thread::Builder::new()
            .name("oculus-watch".into())
            .spawn(move || watch(&thread_fd, &thread_stop, &arrivals));
        if let Err(error) = spawned {
            tracing::warn!(%error, "cannot watch for new records; polling instead");
            return None;
        }
        Some(Self {
            fd,
            watched: FxHashSet::default(),
            stop,
        })
    }

    /// Watches `dir` from now on (once; a directory that is gone is skipped).
    pub fn watch(&mut self, dir: &Path) {
        if self.watched.contains(dir) {
            return;
        }
        let flags = WatchFlags::MODIFY
            | WatchFlags::CREATE
            | WatchFlags::MOVED_TO
            | WatchFlags::CLOSE_WRITE
            | WatchFlags::ONLYDIR;
        match inotify::add_watch(self.fd.as_fd(), dir, flags) {
            Ok(_) => {
                self.watched.insert(dir.to_path_buf());
            }
            // Not a directory (a segment opened alone) or not there (yet): its
            // parent or the timer covers it.
            Err(Errno::NOTDIR | Errno::NOENT) => {}
            Err(error) => {
                tracing::debug!(%error, dir = %dir.display(), "cannot watch a directory");
                self.watched.insert(dir.to_path_buf());
            }
        }
    }
}

impl Drop for DirWatcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// The watching thread: each batch of events is one notification.
fn watch(fd: &OwnedFd, stop: &AtomicBool, arrivals: &Arrivals) {
    let mut buffer = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
    let timeout = Timespec::try_from(STOP_CHECK).ok();
    while !stop.load(Ordering::Acquire) {
        let mut fds = [PollFd::new(fd, PollFlags::IN)];
        match poll(&mut fds, timeout.as_ref()) {
            Ok(0) | Err(Errno::INTR) => continue,
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "watching for new records stopped; polling instead");
                return;
            }
        }
        let mut reader = inotify::Reader::new(fd, &mut buffer);
        let (mut any, mut created) = (false, false);
        loop {
            match reader.next() {
                Ok(event) => {
                    any = true;
                    created |= event
                        .events()
                        .intersects(inotify::ReadFlags::CREATE | inotify::ReadFlags::MOVED_TO);
                }
                Err(Errno::AGAIN | Errno::INTR) => break,
                Err(error) => {
                    tracing::warn!(%error, "watching for new records stopped; polling instead");
                    return;
                }
            }
        }
        if created {
            arrivals.notify_created();
        } else if any {
            arrivals.notify();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::time::{Duration, Instant};

    use super::{Arrivals, DirWatcher};

    #[track_caller]
    fn eventually(what: &str, check: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !check() {
            assert!(Instant::now() < deadline, "never notified: {what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn creating_and_writing_in_a_watched_directory_notifies_and_wakes_the_backend() {
        let dir = tempfile::tempdir().expect("temp dir");
        let arrivals = Arrivals::default();
        let (events, woken) = std::sync::mpsc::sync_channel(4);
        arrivals.connect(events);
        let mut watcher = DirWatcher::start(arrivals.clone()).expect("inotify");
        watcher.watch(dir.path());
        // Not there yet: skipped now, watched once it exists.
        let later = dir.path().join("sessions");
        watcher.watch(&later);
        assert!(!arrivals.take() && !arrivals.take_created());

        let mut file = std::fs::File::create(dir.path().join("segment-1.oseg")).expect("create");
        eventually("a created file", || arrivals.take_created());
        assert!(arrivals.take());
        assert!(woken.try_recv().is_ok(), "the backend was woken");
        file.write_all(b"frame").expect("write");
        eventually("a write", || arrivals.take());
        assert!(!arrivals.take_created());

        std::fs::create_dir(&later).expect("sessions");
        eventually("a new directory", || arrivals.take_created());
        watcher.watch(&later);
        std::fs::write(later.join("session.json"), b"{}").expect("write");
        eventually("a file in the directory watched later", || {
            arrivals.take_created()
        });
    }
}
