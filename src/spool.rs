//! The durable spool (`spool_dir`): every batch the sender takes off the queue is appended to a
//! segment file before it is sent, and acknowledged after a 2xx; what a crash, an outage or a
//! shutdown deadline leaves behind is replayed, byte for byte, by the next client that opens the
//! directory.
//!
//! Layout of a directory:
//! - `lock`: `flock`ed while a client scans the directory and claims segments, and while it
//!   creates a segment (a few ms).
//! - `<unix-nanos>-<pid>-<n>.seg`: a segment, `flock`ed (exclusive) by the client writing it for
//!   as long as it is open. A segment nobody holds is an orphan (its process exited or was killed:
//!   the kernel releases the lock) and the next client to open the directory claims and replays
//!   it. Two live processes sharing a directory therefore each write their own segments and never
//!   touch each other's; leftovers are replayed by whichever client opens the directory next.
//!
//! A segment is a sequence of records, each a 20-byte header and a payload:
//! `"RDSP" | kind u8 | route u8 | 0u16 | count u32 | len u32 | crc32 u32` (little endian), the
//! CRC over header bytes 4..16 and the payload. Kind 1 is a batch (payload: the exact request
//! body), kind 2 acknowledges the batch at the payload's u64 offset. A segment whose batches are
//! all acknowledged is deleted. A damaged record (bad length or CRC, a torn tail) is skipped by
//! scanning forward to the next `RDSP` with a valid CRC: the valid records around it are kept.
//!
//! No fsync: a killed process loses nothing (the page cache outlives it); a power cut may.

use crate::transport::Route;
#[cfg(unix)]
use libc::{LOCK_EX, LOCK_NB, LOCK_UN};
use std::collections::{BTreeMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io;
#[cfg(unix)]
use std::os::unix::fs::FileExt;
#[cfg(unix)]
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
#[cfg(not(unix))]
use windows_stub::{FileExt, LOCK_EX, LOCK_NB, LOCK_UN};

const MAGIC: &[u8; 4] = b"RDSP";
const HEADER: usize = 20;
const KIND_BATCH: u8 = 1;
const KIND_ACK: u8 = 2;
/// A segment is closed for appends past this size, so the budget can drop the oldest in pieces.
const MAX_SEGMENT: u64 = 8 << 20;

/// One batch waiting in the spool.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub route: Route,
    /// Items in the batch (for the statistics).
    pub count: usize,
    /// Left by an earlier client (its items were never counted as queued here).
    pub replayed: bool,
    /// This client's append number (from 1), 0 for a replayed batch.
    pub seq: u64,
    segment: u64,
    offset: u64,
    len: usize,
}

struct Segment {
    path: PathBuf,
    /// Open for the segment's lifetime: it holds the segment's flock.
    file: File,
    len: u64,
    /// Batches not yet acknowledged.
    live: usize,
}

/// What `open` found while claiming orphaned segments.
#[derive(Debug, Default, PartialEq)]
pub struct Recovered {
    pub batches: usize,
    pub items: usize,
    /// Damaged stretches skipped (each was warned about once, by the caller).
    pub damaged: usize,
}

/// Batches and items dropped by the byte budget (oldest first).
#[derive(Debug, Default, PartialEq)]
pub struct Evicted {
    pub items: usize,
    /// Of those, items this client queued (the rest were replayed from an earlier one).
    pub own_items: usize,
}

pub struct Spool {
    dir: PathBuf,
    /// The directory's `lock` file: held while scanning and while creating a segment.
    lock: File,
    budget: u64,
    segments: BTreeMap<u64, Segment>,
    pending: VecDeque<Record>,
    /// The segment new batches are appended to, if open.
    current: Option<u64>,
    next_segment: u64,
    bytes: u64,
    /// Items in the pending batches.
    items: usize,
    /// Batches this client appended.
    appended: u64,
}

fn route_code(route: Route) -> u8 {
    match route {
        Route::Events => 1,
        Route::Signals => 2,
        Route::Identify => 3,
        Route::Traces => 4,
    }
}

fn route_of(code: u8) -> Option<Route> {
    Some(match code {
        1 => Route::Events,
        2 => Route::Signals,
        3 => Route::Identify,
        4 => Route::Traces,
        _ => return None,
    })
}

/// CRC-32 (IEEE) lookup tables for slicing by 8 bytes: a bit-at-a-time CRC cost more than the
/// whole rest of spooling a batch (docs/benchmarks.md).
const CRC_TABLES: [[u32; 256]; 8] = crc_tables();

const fn crc_tables() -> [[u32; 256]; 8] {
    let mut tables = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            bit += 1;
        }
        tables[0][i] = crc;
        i += 1;
    }
    let mut t = 1;
    while t < 8 {
        let mut i = 0;
        while i < 256 {
            let previous = tables[t - 1][i];
            tables[t][i] = (previous >> 8) ^ tables[0][(previous & 0xFF) as usize];
            i += 1;
        }
        t += 1;
    }
    tables
}

fn crc32(parts: &[&[u8]]) -> u32 {
    let t = &CRC_TABLES;
    let mut crc = !0u32;
    for part in parts {
        let mut chunks = part.chunks_exact(8);
        for chunk in &mut chunks {
            let lo = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) ^ crc;
            let hi = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
            crc = t[7][(lo & 0xFF) as usize]
                ^ t[6][((lo >> 8) & 0xFF) as usize]
                ^ t[5][((lo >> 16) & 0xFF) as usize]
                ^ t[4][(lo >> 24) as usize]
                ^ t[3][(hi & 0xFF) as usize]
                ^ t[2][((hi >> 8) & 0xFF) as usize]
                ^ t[1][((hi >> 16) & 0xFF) as usize]
                ^ t[0][(hi >> 24) as usize];
        }
        for &byte in chunks.remainder() {
            crc = (crc >> 8) ^ t[0][((crc ^ u32::from(byte)) & 0xFF) as usize];
        }
    }
    !crc
}

/// A record's header (its CRC covers header bytes 4..16 and the payload).
fn header(kind: u8, route: u8, count: u32, payload: &[u8]) -> [u8; HEADER] {
    let mut header = [0u8; HEADER];
    header[..4].copy_from_slice(MAGIC);
    header[4..8].copy_from_slice(&[kind, route, 0, 0]);
    header[8..12].copy_from_slice(&count.to_le_bytes());
    header[12..16].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    let crc = crc32(&[&header[4..16], payload]);
    header[16..].copy_from_slice(&crc.to_le_bytes());
    header
}

fn encode(kind: u8, route: u8, count: u32, payload: &[u8]) -> Vec<u8> {
    let mut record = header(kind, route, count, payload).to_vec();
    record.extend_from_slice(payload);
    record
}

#[cfg(unix)]
fn flock(file: &File, operation: libc::c_int) -> io::Result<()> {
    // SAFETY: flock on a descriptor this File owns.
    if unsafe { libc::flock(file.as_raw_fd(), operation) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Not on Windows yet (no flock; an open file cannot be renamed there): Spool::open says so, and
/// the client goes on without the spool (spool_pump logs it). These stand-ins only let it compile.
#[cfg(not(unix))]
mod windows_stub {
    use std::fs::File;
    use std::io;

    pub(super) const LOCK_EX: i32 = 2;
    pub(super) const LOCK_NB: i32 = 4;
    pub(super) const LOCK_UN: i32 = 8;

    pub fn unsupported() -> io::Error {
        io::Error::new(io::ErrorKind::Unsupported, "the spool needs a unix system (flock); not available on Windows")
    }

    pub trait FileExt {
        fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
        fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    }

    impl FileExt for File {
        fn write_all_at(&self, _: &[u8], _: u64) -> io::Result<()> {
            Err(unsupported())
        }
        fn read_exact_at(&self, _: &mut [u8], _: u64) -> io::Result<()> {
            Err(unsupported())
        }
    }
}

#[cfg(not(unix))]
fn flock(_: &File, _: i32) -> io::Result<()> {
    Err(windows_stub::unsupported())
}

/// A record read from a segment's bytes.
struct Parsed {
    kind: u8,
    route: u8,
    count: u32,
    offset: u64,
    payload_len: usize,
    ack_of: Option<u64>,
}

/// Parses every valid record; a damaged stretch is skipped up to the next valid record and
/// counted once.
fn parse(bytes: &[u8]) -> (Vec<Parsed>, usize) {
    let mut records = Vec::new();
    let mut damaged = 0;
    let mut in_damage = false;
    let mut at = 0usize;
    while at < bytes.len() {
        match parse_one(bytes, at) {
            Some(parsed) => {
                at += HEADER + parsed.payload_len;
                in_damage = false;
                records.push(parsed);
            }
            None => {
                if !in_damage {
                    damaged += 1;
                    in_damage = true;
                }
                // Resynchronise on the next magic.
                at = match bytes[at + 1..].windows(MAGIC.len()).position(|w| w == MAGIC) {
                    Some(next) => at + 1 + next,
                    None => bytes.len(),
                };
            }
        }
    }
    (records, damaged)
}

fn parse_one(bytes: &[u8], at: usize) -> Option<Parsed> {
    let header = bytes.get(at..at + HEADER)?;
    if &header[..4] != MAGIC {
        return None;
    }
    let word = |i: usize| u32::from_le_bytes(header[i..i + 4].try_into().unwrap_or_default());
    let (kind, route, count, len, crc) = (header[4], header[5], word(8), word(12) as usize, word(16));
    let payload = bytes.get(at + HEADER..(at + HEADER).checked_add(len)?)?;
    if crc32(&[&header[4..16], payload]) != crc {
        return None;
    }
    let ack_of = match kind {
        KIND_BATCH if route_of(route).is_some() => None,
        KIND_ACK if len == 8 => Some(u64::from_le_bytes(payload.try_into().ok()?)),
        _ => return None,
    };
    Some(Parsed { kind, route, count, offset: at as u64, payload_len: len, ack_of })
}

impl Spool {
    /// Creates the directory if needed and claims every orphaned segment (in name order, so
    /// oldest first) for replay before anything new.
    pub fn open(dir: &Path, budget: u64) -> io::Result<(Spool, Recovered)> {
        std::fs::create_dir_all(dir)?;
        let lock = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(dir.join("lock"))?;
        flock(&lock, LOCK_EX)?;
        let mut spool = Spool {
            lock,
            dir: dir.to_owned(),
            budget: budget.max(1),
            segments: BTreeMap::new(),
            pending: VecDeque::new(),
            current: None,
            next_segment: 0,
            bytes: 0,
            items: 0,
            appended: 0,
        };
        let mut recovered = Recovered::default();
        let (mut names, temporary): (Vec<PathBuf>, Vec<PathBuf>) = std::fs::read_dir(dir)?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "seg" || ext == "tmp"))
            .partition(|path| path.extension().is_some_and(|ext| ext == "seg"));
        names.sort();
        // A segment whose process died between creating and renaming it: empty, and unlocked.
        for path in temporary {
            let Ok(file) = File::open(&path) else { continue };
            if flock(&file, LOCK_EX | LOCK_NB).is_ok() {
                let _ = std::fs::remove_file(&path);
            }
        }
        for path in names {
            let Ok(file) = OpenOptions::new().read(true).write(true).open(&path) else { continue };
            if flock(&file, LOCK_EX | LOCK_NB).is_err() {
                continue; // a live client's segment
            }
            let Ok(bytes) = std::fs::read(&path) else { continue };
            let (parsed, damaged) = parse(&bytes);
            recovered.damaged += damaged;
            let acked: std::collections::HashSet<u64> = parsed.iter().filter_map(|p| p.ack_of).collect();
            let id = spool.next_segment;
            let mut live = 0;
            for p in parsed.iter().filter(|p| p.kind == KIND_BATCH && !acked.contains(&p.offset)) {
                live += 1;
                recovered.batches += 1;
                recovered.items += p.count as usize;
                spool.items += p.count as usize;
                spool.pending.push_back(Record {
                    route: route_of(p.route).unwrap_or(Route::Events),
                    count: p.count as usize,
                    replayed: true,
                    seq: 0,
                    segment: id,
                    offset: p.offset,
                    len: p.payload_len,
                });
            }
            if live == 0 {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            spool.next_segment += 1;
            spool.bytes += bytes.len() as u64;
            spool.segments.insert(id, Segment { path, file, len: bytes.len() as u64, live });
        }
        flock(&spool.lock, LOCK_UN)?;
        Ok((spool, recovered))
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    pub fn head(&self) -> Option<&Record> {
        self.pending.front()
    }

    /// Items in the batches not yet acknowledged.
    pub fn items(&self) -> usize {
        self.items
    }

    /// Batches this client appended so far (the `seq` of the last one).
    pub fn appended(&self) -> u64 {
        self.appended
    }

    /// Bytes the segments hold on disk.
    #[cfg(test)]
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Appends a batch (after it). On an error nothing was added and the segment is as before.
    /// Makes room first by dropping the oldest batches when the budget would be passed.
    pub fn append(&mut self, route: Route, body: &[u8], count: usize) -> io::Result<Evicted> {
        let size = (HEADER + body.len()) as u64;
        if size > self.budget || body.len() > u32::MAX as usize {
            return Err(io::Error::other(format!("a batch of {} bytes is larger than the spool budget", body.len())));
        }
        let mut evicted = Evicted::default();
        while self.bytes + size > self.budget {
            let Some((&oldest, _)) = self.segments.first_key_value() else { break };
            self.drop_segment(oldest, &mut evicted);
        }
        let id = match self.current {
            Some(id) => id,
            None => self.new_segment()?,
        };
        let segment = self.segments.get_mut(&id).ok_or_else(|| io::Error::other("segment missing"))?;
        let offset = segment.len;
        // The header, then the body where it lies (no copy of a batch of up to 1 MiB).
        let header = header(KIND_BATCH, route_code(route), count as u32, body);
        let written = segment
            .file
            .write_all_at(&header, offset)
            .and_then(|()| segment.file.write_all_at(body, offset + HEADER as u64));
        if let Err(error) = written {
            let _ = segment.file.set_len(offset); // no torn record left behind
            if segment.live == 0 {
                self.remove_segment(id);
            }
            return Err(error);
        }
        segment.len += size;
        segment.live += 1;
        self.bytes += size;
        if segment.len >= MAX_SEGMENT.min(self.budget / 4).max(1) {
            self.current = None;
        }
        self.appended += 1;
        let seq = self.appended;
        self.pending.push_back(Record { route, count, replayed: false, seq, segment: id, offset, len: body.len() });
        self.items += count;
        Ok(evicted)
    }

    fn new_segment(&mut self) -> io::Result<u64> {
        let id = self.next_segment;
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let name = format!("{nanos:020}-{}-{id}", std::process::id());
        // Locked under a name the scan ignores, then renamed: another process opening the
        // directory never sees it unlocked.
        // Under the directory lock, so a scan never removes it as a dead process's leftover.
        let temporary = self.dir.join(format!("{name}.tmp"));
        let path = self.dir.join(format!("{name}.seg"));
        flock(&self.lock, LOCK_EX)?;
        let created = OpenOptions::new().read(true).write(true).create_new(true).open(&temporary).and_then(|file| {
            match flock(&file, LOCK_EX | LOCK_NB).and_then(|()| std::fs::rename(&temporary, &path)) {
                Ok(()) => Ok(file),
                Err(error) => {
                    let _ = std::fs::remove_file(&temporary);
                    Err(error)
                }
            }
        });
        let _ = flock(&self.lock, LOCK_UN);
        let file = created?;
        self.next_segment += 1;
        self.segments.insert(id, Segment { path, file, len: 0, live: 0 });
        self.current = Some(id);
        Ok(id)
    }

    /// Reads the head batch's exact body.
    pub fn read_head(&self) -> io::Result<Vec<u8>> {
        let record = self.pending.front().ok_or_else(|| io::Error::other("spool is empty"))?;
        let segment = self.segments.get(&record.segment).ok_or_else(|| io::Error::other("segment missing"))?;
        let mut body = vec![0; record.len];
        segment.file.read_exact_at(&mut body, record.offset + HEADER as u64)?;
        Ok(body)
    }

    /// The head batch reached a final state (delivered, rejected, unreadable): forget it. Its
    /// segment is deleted once nothing in it is pending, otherwise an ack record is appended
    /// (if that fails, a replay may send the batch again: at least once, never lost).
    pub fn ack_head(&mut self) {
        let Some(record) = self.pending.pop_front() else { return };
        self.items = self.items.saturating_sub(record.count);
        let Some(segment) = self.segments.get_mut(&record.segment) else { return };
        segment.live = segment.live.saturating_sub(1);
        if segment.live == 0 && self.current == Some(record.segment) {
            // The segment being written, with nothing pending: start it over (cheaper than a
            // new file per batch while the sink is up).
            if segment.file.set_len(0).is_ok() {
                self.bytes -= segment.len;
                segment.len = 0;
            } else {
                self.remove_segment(record.segment);
            }
        } else if segment.live == 0 {
            self.remove_segment(record.segment);
        } else {
            let ack = encode(KIND_ACK, 0, 0, &record.offset.to_le_bytes());
            if segment.file.write_all_at(&ack, segment.len).is_ok() {
                segment.len += ack.len() as u64;
                self.bytes += ack.len() as u64;
            } else {
                let _ = segment.file.set_len(segment.len);
            }
        }
    }

    /// Acknowledges `record` if it is still the head; false when the byte budget dropped it
    /// meanwhile (it was counted as dropped then).
    pub fn ack(&mut self, record: &Record) -> bool {
        if self.pending.front() != Some(record) {
            return false;
        }
        self.ack_head();
        true
    }

    fn remove_segment(&mut self, id: u64) {
        if let Some(segment) = self.segments.remove(&id) {
            let _ = std::fs::remove_file(&segment.path);
            self.bytes -= segment.len;
        }
        if self.current == Some(id) {
            self.current = None;
        }
    }

    fn drop_segment(&mut self, id: u64, evicted: &mut Evicted) {
        let items = &mut self.items;
        self.pending.retain(|record| {
            if record.segment == id {
                *items = items.saturating_sub(record.count);
                evicted.items += record.count;
                if !record.replayed {
                    evicted.own_items += record.count;
                }
                false
            } else {
                true
            }
        });
        self.remove_segment(id);
    }
}

impl Drop for Spool {
    /// The segment being written may be empty (all delivered): leave no empty file behind.
    fn drop(&mut self) {
        for segment in self.segments.values().filter(|segment| segment.live == 0) {
            let _ = std::fs::remove_file(&segment.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_SPOOL_MAX_BYTES;

    fn dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("rd-spool-{name}-{}-{}", std::process::id(), crate::ids::next_u64()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn drain(spool: &mut Spool) -> Vec<(Route, Vec<u8>, bool)> {
        let mut out = Vec::new();
        while let Some(head) = spool.head().cloned() {
            out.push((head.route, spool.read_head().unwrap(), head.replayed));
            spool.ack_head();
        }
        out
    }

    fn segments(dir: &Path) -> Vec<PathBuf> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "seg"))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(&[b"123456789"]), 0xCBF4_3926);
        assert_eq!(crc32(&[b"1234", b"56789"]), 0xCBF4_3926);
        // Slicing by 8 agrees with the bit-at-a-time definition at every length and split.
        let bitwise = |bytes: &[u8]| {
            let mut crc = !0u32;
            for &byte in bytes {
                crc ^= u32::from(byte);
                for _ in 0..8 {
                    crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
                }
            }
            !crc
        };
        let data: Vec<u8> = (0..300u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for len in 0..data.len() {
            let split = len / 3;
            assert_eq!(crc32(&[&data[..split], &data[split..len]]), bitwise(&data[..len]), "length {len}");
        }
    }

    #[test]
    fn replays_what_a_dropped_client_left_in_order_with_the_same_bytes() {
        let dir = dir("replay");
        let (mut spool, recovered) = Spool::open(&dir, DEFAULT_SPOOL_MAX_BYTES).unwrap();
        assert_eq!(recovered, Recovered::default());
        spool.append(Route::Events, b"[{\"event_id\":\"a\"}]", 1).unwrap();
        spool.append(Route::Traces, b"{\"resourceSpans\":[]}", 3).unwrap();
        spool.append(Route::Signals, b"[1,2]", 2).unwrap();
        // The first one was delivered; the process goes away with two left.
        spool.ack_head();
        drop(spool);
        let (mut again, recovered) = Spool::open(&dir, DEFAULT_SPOOL_MAX_BYTES).unwrap();
        assert_eq!(recovered, Recovered { batches: 2, items: 5, damaged: 0 });
        assert_eq!(
            drain(&mut again),
            vec![(Route::Traces, b"{\"resourceSpans\":[]}".to_vec(), true), (Route::Signals, b"[1,2]".to_vec(), true)]
        );
        assert!(segments(&dir).is_empty(), "segments are deleted once everything in them was acknowledged");
        drop(again);
        let (again, recovered) = Spool::open(&dir, DEFAULT_SPOOL_MAX_BYTES).unwrap();
        assert!(again.is_empty() && recovered.batches == 0, "nothing is replayed twice");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_live_clients_segments_are_not_claimed() {
        let dir = dir("shared");
        let (mut first, _) = Spool::open(&dir, DEFAULT_SPOOL_MAX_BYTES).unwrap();
        first.append(Route::Events, b"[1]", 1).unwrap();
        let (second, recovered) = Spool::open(&dir, DEFAULT_SPOOL_MAX_BYTES).unwrap();
        assert!(second.is_empty() && recovered.batches == 0, "the first client still holds its segment");
        drop(second);
        drop(first); // now an orphan
        let (mut third, recovered) = Spool::open(&dir, DEFAULT_SPOOL_MAX_BYTES).unwrap();
        assert_eq!(recovered.batches, 1);
        assert_eq!(drain(&mut third), vec![(Route::Events, b"[1]".to_vec(), true)]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_budget_drops_the_oldest_first_and_counts_them() {
        let dir = dir("budget");
        let body = vec![b'x'; 1000];
        // Four records per segment (budget / 4), room for about ten.
        let (mut spool, _) = Spool::open(&dir, 10 * (HEADER as u64 + 1000) + 10).unwrap();
        let mut evicted = 0;
        for i in 0..30u8 {
            let mut b = body.clone();
            b[0] = i;
            evicted += spool.append(Route::Events, &b, 1).unwrap().items;
            assert!(spool.bytes() <= spool.budget, "{} > {}", spool.bytes(), spool.budget);
        }
        let left: Vec<u8> = drain(&mut spool).iter().map(|(_, b, _)| b[0]).collect();
        assert_eq!(evicted + left.len(), 30);
        assert!(left.len() >= 6, "{left:?}");
        let newest: Vec<u8> = (30 - left.len() as u8..30).collect();
        assert_eq!(left, newest, "the oldest went first");
        assert!(spool.append(Route::Events, &vec![0; 20_000], 1).is_err(), "larger than the whole budget");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn acknowledged_batches_stay_acknowledged_across_a_restart() {
        let dir = dir("acks");
        let (mut spool, _) = Spool::open(&dir, DEFAULT_SPOOL_MAX_BYTES).unwrap();
        for i in 0..5u8 {
            spool.append(Route::Events, &[i], 1).unwrap();
        }
        spool.ack_head();
        spool.ack_head();
        drop(spool);
        let (mut again, _) = Spool::open(&dir, DEFAULT_SPOOL_MAX_BYTES).unwrap();
        let left: Vec<Vec<u8>> = drain(&mut again).into_iter().map(|(_, b, _)| b).collect();
        assert_eq!(left, vec![vec![2], vec![3], vec![4]]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unusable_directory_is_an_error_not_a_panic() {
        let file = std::env::temp_dir().join(format!("rd-spool-file-{}", std::process::id()));
        std::fs::write(&file, b"not a directory").unwrap();
        assert!(Spool::open(&file.join("spool"), DEFAULT_SPOOL_MAX_BYTES).is_err(), "a path under a regular file");
        let _ = std::fs::remove_file(&file);
    }

    /// Random damage (flipped bytes, truncation, inserted garbage) to a segment: every record
    /// whose bytes were not touched is still replayed, and nothing is invented.
    #[test]
    fn damage_loses_only_the_damaged_records() {
        let dir = dir("fuzz");
        let bodies: Vec<Vec<u8>> = (0..12u8)
            .map(|i| format!("[{{\"event_id\":\"e{i}\",\"pad\":\"{}\"}}]", "p".repeat(i as usize * 7)).into_bytes())
            .collect();
        let (mut spool, _) = Spool::open(&dir, DEFAULT_SPOOL_MAX_BYTES).unwrap();
        for body in &bodies {
            spool.append(Route::Events, body, 1).unwrap();
        }
        drop(spool);
        let path = segments(&dir).remove(0);
        let pristine = std::fs::read(&path).unwrap();
        // Where each record lies, to know which ones a mutation touched.
        let mut spans = Vec::new();
        let mut at = 0;
        for body in &bodies {
            spans.push(at..at + HEADER + body.len());
            at += HEADER + body.len();
        }
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut rand = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for round in 0..300 {
            let mut bytes = pristine.clone();
            let mut touched = vec![false; bodies.len()];
            let touch = |pos: usize, touched: &mut Vec<bool>| {
                for (i, span) in spans.iter().enumerate() {
                    if span.contains(&pos) {
                        touched[i] = true;
                    }
                }
            };
            let mut detectable = true;
            match round % 3 {
                0 => {
                    for _ in 0..1 + rand(3) {
                        let pos = rand(bytes.len());
                        bytes[pos] ^= 1 << rand(8);
                        touch(pos, &mut touched);
                    }
                }
                1 => {
                    let cut = rand(bytes.len());
                    bytes.truncate(cut);
                    for pos in cut..pristine.len() {
                        touch(pos, &mut touched);
                    }
                    // A cut exactly between two records leaves a shorter, valid segment.
                    detectable = !spans.iter().any(|s| s.start == cut);
                }
                _ => {
                    // Garbage inserted between or inside records (a torn write, then more).
                    let pos = rand(bytes.len());
                    let garbage: Vec<u8> = (0..1 + rand(40)).map(|_| rand(256) as u8).collect();
                    bytes.splice(pos..pos, garbage);
                    for (i, span) in spans.iter().enumerate() {
                        touched[i] |= span.start < pos && pos < span.end;
                    }
                }
            }
            std::fs::write(&path, &bytes).unwrap();
            let (mut spool, recovered) = Spool::open(&dir, DEFAULT_SPOOL_MAX_BYTES).unwrap();
            let got: Vec<Vec<u8>> = drain(&mut spool).into_iter().map(|(_, b, _)| b).collect();
            let intact: Vec<Vec<u8>> =
                bodies.iter().zip(&touched).filter(|(_, t)| !**t).map(|(b, _)| b.clone()).collect();
            for body in &intact {
                assert!(got.contains(body), "round {round}: lost an intact record");
            }
            for body in &got {
                assert!(bodies.contains(body), "round {round}: replayed bytes that were never spooled");
            }
            if detectable {
                assert!(recovered.damaged >= 1, "round {round}: damage went unreported");
            }
            drop(spool);
            // Replayed and acknowledged: put the segment back for the next round.
            std::fs::write(&path, &pristine).unwrap();
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
