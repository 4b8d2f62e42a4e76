//! The thread pool the compositors run on, and splitting a channel into row bands for it.
//!
//! One process-wide pool whose size the caller sets ([`set_threads`]; the `PRIVMASK_THREADS`
//! environment variable gives the initial size, else the number of CPUs). Small jobs stay on the
//! calling thread: splitting only pays once a band has enough covered samples.

use std::sync::{Arc, Mutex, RwLock};

use rayon::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::error::{Error, Result};
use crate::frame::{ChannelMut, Sample};
use crate::spans::Spans;

/// Covered samples a band should hold at least before it is worth a thread.
pub const MIN_SAMPLES_PER_BAND: u64 = 1 << 14;

static POOL: RwLock<Option<Arc<ThreadPool>>> = RwLock::new(None);

thread_local! {
    /// Set while [`serial`] runs: compositors called from this thread keep to it.
    static SERIAL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with every compositor it calls on this thread kept to this thread (no pool), for
/// pipelines whose other stages already keep the cores busy.
pub fn serial<R>(f: impl FnOnce() -> R) -> R {
    let before = SERIAL.with(|s| s.replace(true));
    let out = f();
    SERIAL.with(|s| s.set(before));
    out
}

/// Whether the compositors may use the pool from this thread.
pub fn may_split() -> bool {
    !SERIAL.with(|s| s.get()) && pool().current_num_threads() > 1
}

fn build(threads: usize) -> Result<Arc<ThreadPool>> {
    ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("privmask-{i}"))
        .build()
        .map(Arc::new)
        .map_err(|e| Error::MaskConfig(format!("cannot start {threads} threads: {e}")))
}

fn default_threads() -> usize {
    std::env::var("PRIVMASK_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0 && n <= MAX_THREADS)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The pool, built on first use.
pub fn pool() -> Arc<ThreadPool> {
    if let Some(p) = POOL.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        return Arc::clone(p);
    }
    let mut slot = POOL.write().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = slot.as_ref() {
        return Arc::clone(p);
    }
    let p = build(default_threads())
        .or_else(|_| build(1))
        .expect("a one-thread pool can always be built");
    *slot = Some(Arc::clone(&p));
    p
}

/// Pools built before: switching back to a size reuses its threads instead of starting new ones
/// while the old ones wind down (which made alternating sizes look slow).
static BUILT: Mutex<Vec<Arc<ThreadPool>>> = Mutex::new(Vec::new());

/// Most threads the pool may have: more cannot help (the kernels split a frame into bands), and
/// an absurd count would try to start them all.
pub const MAX_THREADS: usize = 1024;

/// Sets how many threads the compositors use (1 keeps all work on the calling thread; at most
/// [`MAX_THREADS`]).
pub fn set_threads(threads: usize) -> Result<()> {
    if threads == 0 || threads > MAX_THREADS {
        return Err(Error::MaskConfig(format!(
            "the thread count must be from 1 to {MAX_THREADS}, got {threads}"
        )));
    }
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let p = match built.iter().find(|p| p.current_num_threads() == threads) {
        Some(p) => Arc::clone(p),
        None => {
            let p = build(threads)?;
            built.push(Arc::clone(&p));
            p
        }
    };
    *POOL.write().unwrap_or_else(|e| e.into_inner()) = Some(p);
    Ok(())
}

/// How many threads the compositors use.
pub fn threads() -> usize {
    pool().current_num_threads()
}

/// Runs `f(row, a_row, b_row)` over the rows (`width` long) of two row-major buffers of the same
/// shape: on the pool when `parallel` (and the pool has threads to give), else in order here.
pub fn for_rows2<F>(a: &mut [f32], b: &mut [f32], width: usize, parallel: bool, f: F)
where
    F: Fn(usize, &mut [f32], &mut [f32]) + Sync,
{
    if parallel && may_split() {
        pool().install(|| {
            a.par_chunks_mut(width)
                .zip(b.par_chunks_mut(width))
                .enumerate()
                .for_each(|(y, (ra, rb))| f(y, ra, rb));
        });
    } else {
        for (y, (ra, rb)) in a.chunks_mut(width).zip(b.chunks_mut(width)).enumerate() {
            f(y, ra, rb);
        }
    }
}

/// Runs `work` on bands of the rows of `ch` that hold covered samples (`spans`), in parallel
/// when the pool has more than one thread and there are enough covered samples. Band edges fall
/// on multiples of `align` rows, so blocks never straddle two bands.
pub fn for_bands<T: Sample, F>(ch: ChannelMut<'_, T>, spans: &Spans, align: u32, work: &F)
where
    F: Fn(ChannelMut<'_, T>) + Sync,
{
    let pool = pool();
    let bands = (pool.current_num_threads() as u64 * 2).min(spans.count() / MIN_SAMPLES_PER_BAND);
    let Some((first, end)) = spans.row_range() else {
        return;
    };
    if bands <= 1 || !may_split() {
        work(ch);
        return;
    }
    // Only the covered rows are split, so every band gets a fair share of the work.
    let align = align.max(1);
    let (_, rest) = ch.split_at_row(first / align * align);
    let stop = (end.div_ceil(align) * align).min(rest.rows().1);
    let (active, _) = rest.split_at_row(stop);
    pool.install(|| split(active, bands, align, work));
}

fn split<T: Sample, F>(ch: ChannelMut<'_, T>, bands: u64, align: u32, work: &F)
where
    F: Fn(ChannelMut<'_, T>) + Sync,
{
    let (first, end) = ch.rows();
    let mid = first + ((end - first) / 2).div_ceil(align) * align;
    if bands <= 1 || mid <= first || mid >= end {
        work(ch);
        return;
    }
    let (upper, lower) = ch.split_at_row(mid);
    let half = bands / 2;
    rayon::join(
        || split(upper, half, align, work),
        || split(lower, bands - half, align, work),
    );
}
