use super::*;
use crate::spool::record::SpooledAction;

fn event(n: i64) -> SpooledEvent {
    SpooledEvent {
        source: "statuscake".into(),
        arrival_ms: 1_000 + n,
        action: if n % 2 == 0 {
            SpooledAction::Open
        } else {
            SpooledAction::Resolve
        },
        fingerprint: format!("fp-{n}"),
        priority: None,
        title: None,
        labels: "{}".into(),
        event_time: None,
        rule: None,
        auto_resolve_after_ms: None,
        flapping: None,
    }
}

fn fill(dir: &Path, n: i64) -> Vec<u64> {
    let (mut file, _) = SpoolFile::open(dir).expect("open");
    let mut ends = Vec::new();
    for i in 0..n {
        assert!(file.append(&mut event(i), u64::MAX).expect("append"));
        ends.push(file.len());
    }
    ends
}

fn pending_events(dir: &Path) -> (Vec<SpooledEvent>, Recovery) {
    let (file, recovery) = SpoolFile::open(dir).expect("reopen");
    let events = file
        .read_pending(usize::MAX)
        .expect("read")
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    (events, recovery)
}

#[test]
fn appended_records_survive_a_reopen_in_order() {
    let dir = tempfile::tempdir().expect("tmp");
    fill(dir.path(), 5);
    let (events, recovery) = pending_events(dir.path());
    assert_eq!(events, (0..5).map(event).collect::<Vec<_>>());
    assert_eq!(recovery.pending, 5);
    assert_eq!(recovery.dropped, None);
}

#[test]
fn a_torn_tail_is_cut_and_the_rest_kept() {
    let dir = tempfile::tempdir().expect("tmp");
    let ends = fill(dir.path(), 3);
    let log = dir.path().join(LOG);
    // Cut the last record in the middle, as a crash during its write would.
    let cut = ends[1] + (ends[2] - ends[1]) / 2;
    File::options()
        .write(true)
        .open(&log)
        .expect("log")
        .set_len(cut)
        .expect("truncate");
    let (events, recovery) = pending_events(dir.path());
    assert_eq!(events, vec![event(0), event(1)]);
    assert_eq!(
        recovery.dropped,
        Some(Dropped::TornTail {
            offset: ends[1],
            bytes: cut - ends[1]
        })
    );
    assert_eq!(std::fs::metadata(&log).expect("meta").len(), ends[1]);
}

#[test]
fn a_corrupt_middle_record_stops_replay_there_and_keeps_the_rest_aside() {
    let dir = tempfile::tempdir().expect("tmp");
    let ends = fill(dir.path(), 4);
    let log = dir.path().join(LOG);
    let mut bytes = std::fs::read(&log).expect("read");
    // Damage the second record's payload.
    let at = usize::try_from(ends[0]).expect("usize") + FRAME_HEADER + 2;
    bytes[at] ^= 0x20;
    std::fs::write(&log, &bytes).expect("write");
    let (events, recovery) = pending_events(dir.path());
    assert_eq!(events, vec![event(0)]);
    let Some(Dropped::Corrupt {
        offset,
        bytes: moved,
        kept_as,
        reason,
    }) = recovery.dropped
    else {
        panic!("{recovery:?}");
    };
    assert_eq!(offset, ends[0]);
    assert_eq!(moved, ends[3] - ends[0]);
    assert!(reason.contains("checksum"), "{reason}");
    let aside = std::fs::read(&kept_as).expect("kept aside");
    assert_eq!(aside, bytes[usize::try_from(ends[0]).expect("usize")..]);
}

#[test]
fn applied_records_are_not_replayed_and_draining_truncates() {
    let dir = tempfile::tempdir().expect("tmp");
    let ends = fill(dir.path(), 3);
    {
        let (mut file, _) = SpoolFile::open(dir.path()).expect("open");
        assert!(!file.advance(ends[0]).expect("advance"));
    }
    let (events, recovery) = pending_events(dir.path());
    assert_eq!(events, vec![event(1), event(2)]);
    assert_eq!(recovery.applied, 1);
    let (mut file, _) = SpoolFile::open(dir.path()).expect("open");
    assert!(!file.advance(ends[1]).expect("advance"));
    assert!(file.advance(ends[2]).expect("advance"), "drained");
    assert_eq!(file.len(), START);
    assert_eq!(file.pending(), 0);
}

#[test]
fn a_position_past_the_end_means_all_applied() {
    // A crash between the drain's truncate and its position reset.
    let dir = tempfile::tempdir().expect("tmp");
    let ends = fill(dir.path(), 2);
    {
        let (mut file, _) = SpoolFile::open(dir.path()).expect("open");
        file.advance(ends[0]).expect("advance");
        file.cursor = ends[1];
        file.write_position(true).expect("pos");
    }
    File::options()
        .write(true)
        .open(dir.path().join(LOG))
        .expect("log")
        .set_len(START)
        .expect("truncate");
    let (events, recovery) = pending_events(dir.path());
    assert!(events.is_empty());
    assert_eq!(recovery.pending, 0);
    assert!(!recovery.position_reset);
}

#[test]
fn a_damaged_position_replays_everything() {
    let dir = tempfile::tempdir().expect("tmp");
    fill(dir.path(), 2);
    std::fs::write(dir.path().join(POS), b"garbage-garb").expect("pos");
    let (events, recovery) = pending_events(dir.path());
    assert_eq!(events.len(), 2);
    assert!(recovery.position_reset);
}

#[test]
fn a_full_spool_refuses_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut file, _) = SpoolFile::open(dir.path()).expect("open");
    assert!(file.append(&mut event(0), 200).expect("first"));
    let len = file.len();
    assert!(!file.append(&mut event(1), len + 10).expect("second"));
    assert_eq!(file.len(), len);
    assert_eq!(file.pending(), 1);
}

#[test]
fn arrival_times_never_go_back() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut file, _) = SpoolFile::open(dir.path()).expect("open");
    let mut late = event(50);
    file.append(&mut late, u64::MAX).expect("append");
    let mut early = event(10);
    file.append(&mut early, u64::MAX).expect("append");
    assert_eq!(early.arrival_ms, late.arrival_ms);
    drop(file);
    // Also across a reopen.
    let (mut file, _) = SpoolFile::open(dir.path()).expect("open");
    let mut earlier = event(0);
    file.append(&mut earlier, u64::MAX).expect("append");
    assert_eq!(earlier.arrival_ms, late.arrival_ms);
}

#[test]
fn a_second_process_cannot_open_the_same_spool() {
    let dir = tempfile::tempdir().expect("tmp");
    let (_file, _) = SpoolFile::open(dir.path()).expect("open");
    assert!(matches!(
        SpoolFile::open(dir.path()),
        Err(FileError::Locked(_))
    ));
}

#[test]
fn a_file_that_is_not_a_spool_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join(LOG), b"hello world, not ours").expect("write");
    assert!(matches!(
        SpoolFile::open(dir.path()),
        Err(FileError::NotASpool(_))
    ));
}
