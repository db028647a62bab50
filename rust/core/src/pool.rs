//! The thread pools kernels run on, and per-call cancellation.
//!
//! Kernels run on rayon pools this crate owns, never on rayon's global pool, for two reasons:
//!
//! - **fork**: after `fork()` only the forking thread exists in the child. A pool whose worker
//!   threads were created before the fork waits forever for them, and rayon's global pool cannot
//!   be rebuilt. A `pthread_atfork` child handler forgets every pool (they are leaked in the
//!   child, never dropped or joined) and the next [`lease`] in the child builds fresh ones.
//! - **cancellation**: a pool serves one call at a time (a [`Lease`]) and owns one flag. Its
//!   worker threads know their pool's flag, so [`check_cancelled`], polled by kernels between
//!   tiles, panels or iterations, reads the flag of the call it is working for, whatever rayon
//!   task or nested parallel loop it is called from. Concurrent calls lease different pools, so
//!   cancelling one never stops another. Outside a leased pool (direct Rust use on rayon's
//!   global pool or no pool at all) nothing is ever cancelled.
//!
//! The first pool has rayon's default size (`RAYON_NUM_THREADS`, else the number of CPUs); a
//! pool created while `i` others are busy has half as many threads as the previous one (at
//! least one), so concurrent calls share the machine instead of multiplying its thread count.
//! Results never depend on the pool size (every kernel is thread-count independent).

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, Once};
use std::time::Duration;

use rayon::{ThreadPool, ThreadPoolBuildError, ThreadPoolBuilder};

use crate::error::{Result, TrainingError};

thread_local! {
    /// The cancellation flag of the pool this thread works for (set once, when a pool's worker
    /// thread starts; `None` on every other thread).
    static CANCEL: std::cell::Cell<Option<&'static AtomicBool>> = const { std::cell::Cell::new(None) };
}

/// `Err(TrainingError::Cancelled)` when the call the current thread works for was cancelled.
///
/// Kernels call this between units of work (tiles, panels, iterations) and return the error at
/// once, before modifying anything the caller owns. It costs one thread-local read and one
/// relaxed atomic load.
#[inline]
pub fn check_cancelled() -> Result<()> {
    match CANCEL.with(std::cell::Cell::get) {
        Some(flag) if flag.load(Ordering::Relaxed) => Err(TrainingError::Cancelled),
        _ => Ok(()),
    }
}

/// Times [`Lease::run_watched`] polls for a result (yielding in between) before it blocks.
const SPIN_ROUNDS: usize = 64;

/// One pool and its cancellation flag (both live as long as the process).
struct Slot {
    pool: ThreadPool,
    cancel: &'static AtomicBool,
}

/// The pools of one process image: a free list, plus what sizes new pools.
struct PoolSet {
    free: Mutex<Vec<Arc<Slot>>>,
    /// Threads of the next pool to create (halved after each creation, at least 1); 0 before
    /// the first pool, which takes rayon's default.
    next_threads: Mutex<usize>,
}

/// The current process image's pools. Never freed: the fork child handler replaces it by null
/// (leaking the parent's pools, whose threads do not exist in the child).
static POOLS: AtomicPtr<PoolSet> = AtomicPtr::new(std::ptr::null_mut());
/// Incremented in every fork child, so that a lease taken before the fork is not returned.
static GENERATION: AtomicU64 = AtomicU64::new(0);
static REGISTER_FORK_HANDLER: Once = Once::new();

/// Runs in the child process right after `fork()`: only atomic stores, async-signal-safe.
#[cfg(unix)]
extern "C" fn forget_pools_in_child() {
    POOLS.store(std::ptr::null_mut(), Ordering::SeqCst);
    GENERATION.fetch_add(1, Ordering::SeqCst);
}

fn pool_set() -> &'static PoolSet {
    REGISTER_FORK_HANDLER.call_once(|| {
        // SAFETY: registers a handler that only performs atomic stores; no prepare/parent hooks.
        #[cfg(unix)]
        unsafe {
            libc::pthread_atfork(None, None, Some(forget_pools_in_child));
        }
    });
    let current = POOLS.load(Ordering::SeqCst);
    if !current.is_null() {
        // SAFETY: a published set is never freed.
        return unsafe { &*current };
    }
    let fresh = Box::into_raw(Box::new(PoolSet {
        free: Mutex::new(Vec::new()),
        next_threads: Mutex::new(0),
    }));
    match POOLS.compare_exchange(
        std::ptr::null_mut(),
        fresh,
        Ordering::SeqCst,
        Ordering::SeqCst,
    ) {
        // SAFETY: just published, never freed.
        Ok(_) => unsafe { &*fresh },
        Err(winner) => {
            // SAFETY: `fresh` was never shared; `winner` is published and never freed.
            drop(unsafe { Box::from_raw(fresh) });
            unsafe { &*winner }
        }
    }
}

impl PoolSet {
    fn build(&self) -> std::result::Result<Arc<Slot>, ThreadPoolBuildError> {
        let mut next = self.next_threads.lock().unwrap_or_else(|e| e.into_inner());
        let cancel: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
        let builder = ThreadPoolBuilder::new()
            .num_threads(*next)
            .thread_name(|i| format!("ruvector-{i}"))
            .start_handler(move |_| CANCEL.with(|c| c.set(Some(cancel))));
        let pool = builder.build()?;
        *next = (pool.current_num_threads() / 2).max(1);
        Ok(Arc::new(Slot { pool, cancel }))
    }
}

/// Exclusive use of one pool for one call. Dropping it returns the pool for the next call.
pub struct Lease {
    slot: Option<Arc<Slot>>,
    set: &'static PoolSet,
    generation: u64,
}

/// Takes a free pool (the largest one) or builds a new one.
///
/// Fails only when the operating system refuses to start the pool's threads.
pub fn lease() -> std::result::Result<Lease, ThreadPoolBuildError> {
    let generation = GENERATION.load(Ordering::SeqCst);
    let set = pool_set();
    let reused = {
        let mut free = set.free.lock().unwrap_or_else(|e| e.into_inner());
        let largest = (0..free.len()).max_by_key(|&i| free[i].pool.current_num_threads());
        largest.map(|i| free.swap_remove(i))
    };
    let slot = match reused {
        Some(slot) => slot,
        None => set.build()?,
    };
    slot.cancel.store(false, Ordering::SeqCst);
    Ok(Lease {
        slot: Some(slot),
        set,
        generation,
    })
}

impl Lease {
    fn slot(&self) -> &Slot {
        self.slot
            .as_deref()
            .expect("a lease holds its slot until dropped")
    }

    /// The leased pool.
    pub fn pool(&self) -> &ThreadPool {
        &self.slot().pool
    }

    /// Cancels the call running on this pool: its next [`check_cancelled`] fails.
    pub fn cancel(&self) {
        self.slot().cancel.store(true, Ordering::SeqCst);
    }

    /// True once [`cancel`](Self::cancel) was called for this lease.
    pub fn is_cancelled(&self) -> bool {
        self.slot().cancel.load(Ordering::SeqCst)
    }

    /// Runs `kernel` on the leased pool and returns its result. While it runs, the calling
    /// thread wakes every `interval` and calls `watch`; once `watch` returns true the call is
    /// cancelled (see [`cancel`](Self::cancel)) and `watch` is not called again. Either way
    /// this waits for `kernel` to return (a cancelled kernel returns at its next
    /// [`check_cancelled`]). A panic in `kernel` is resumed here.
    pub fn run_watched<R: Send>(
        &self,
        kernel: impl FnOnce() -> R + Send,
        interval: Duration,
        mut watch: impl FnMut() -> bool,
    ) -> R {
        let (sender, receiver) = mpsc::sync_channel(1);
        let result = self.pool().in_place_scope(|scope| {
            scope.spawn(move |_| {
                // The receiver outlives the scope, so the send cannot fail.
                let _ = sender.send(kernel());
            });
            // Short kernels: wait for the result without sleeping (a futex wake-up costs
            // more than most small calls).
            for _ in 0..SPIN_ROUNDS {
                match receiver.try_recv() {
                    Ok(result) => return Some(result),
                    Err(mpsc::TryRecvError::Empty) => std::thread::yield_now(),
                    Err(mpsc::TryRecvError::Disconnected) => return None,
                }
            }
            let mut watching = true;
            loop {
                let wait = if watching {
                    receiver.recv_timeout(interval)
                } else {
                    receiver
                        .recv()
                        .map_err(|_| mpsc::RecvTimeoutError::Disconnected)
                };
                match wait {
                    Ok(result) => return Some(result),
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        if watch() {
                            self.cancel();
                            watching = false;
                        }
                    }
                    // The kernel panicked: the scope resumes the panic when it closes.
                    Err(mpsc::RecvTimeoutError::Disconnected) => return None,
                }
            }
        });
        result.expect("a kernel that did not panic sent its result")
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(slot) = self.slot.take() else {
            return;
        };
        if GENERATION.load(Ordering::SeqCst) == self.generation {
            self.set
                .free
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(slot);
        } else {
            // Leased before a fork and dropped in the child: its threads do not exist here.
            std::mem::forget(slot);
        }
    }
}

/// Runs `kernel` on a leased pool without watching (nothing can cancel it): for Rust callers
/// that want fork safety only.
pub fn run<R: Send>(
    kernel: impl FnOnce() -> R + Send,
) -> std::result::Result<R, ThreadPoolBuildError> {
    Ok(lease()?.pool().install(kernel))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;
    use std::time::Instant;

    /// A kernel that polls while spinning in parallel until cancelled (or `limit` elapses).
    fn spin(limit: Duration) -> Result<usize> {
        let start = Instant::now();
        (0..64usize)
            .into_par_iter()
            .map(|i| loop {
                check_cancelled()?;
                if start.elapsed() > limit {
                    return Ok(i);
                }
                std::thread::sleep(Duration::from_millis(1));
            })
            .sum::<Result<usize>>()
    }

    #[test]
    fn nothing_is_cancelled_outside_a_leased_pool() {
        assert_eq!(check_cancelled(), Ok(()));
        assert_eq!(spin(Duration::from_millis(5)), Ok(2016));
    }

    #[test]
    fn watch_cancels_the_running_kernel_and_the_next_lease_is_clean() {
        let lease = lease().unwrap();
        let mut calls = 0;
        let start = Instant::now();
        let result = lease.run_watched(
            || spin(Duration::from_secs(30)),
            Duration::from_millis(10),
            || {
                calls += 1;
                calls == 3
            },
        );
        assert_eq!(result, Err(TrainingError::Cancelled));
        assert_eq!(calls, 3);
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(lease.is_cancelled());
        drop(lease);
        let again = super::lease().unwrap();
        assert!(!again.is_cancelled());
        let value = again.run_watched(
            || spin(Duration::from_millis(20)),
            Duration::from_millis(5),
            || false,
        );
        assert_eq!(value, Ok(2016));
    }

    #[test]
    fn cancelling_one_call_leaves_a_concurrent_one_running() {
        let victim = lease().unwrap();
        let bystander = lease().unwrap();
        std::thread::scope(|s| {
            let other = s.spawn(|| {
                bystander.run_watched(
                    || spin(Duration::from_millis(300)),
                    Duration::from_millis(5),
                    || false,
                )
            });
            let cancelled = victim.run_watched(
                || spin(Duration::from_secs(30)),
                Duration::from_millis(5),
                || true,
            );
            assert_eq!(cancelled, Err(TrainingError::Cancelled));
            assert_eq!(other.join().unwrap(), Ok(2016));
        });
    }

    #[test]
    fn kernels_run_on_the_leased_pool_and_panics_propagate() {
        let lease = lease().unwrap();
        let threads = lease.pool().current_num_threads();
        let seen = lease.run_watched(rayon::current_num_threads, Duration::from_secs(1), || false);
        assert_eq!(seen, threads);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            lease.run_watched(
                || -> u8 { panic!("boom") },
                Duration::from_secs(1),
                || false,
            )
        }));
        assert!(panicked.is_err());
        assert_eq!(run(|| 7).unwrap(), 7);
    }
}
