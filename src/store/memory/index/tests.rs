//! `StatusIndex` on its own: the paging order (newest first, strictly below a cursor id,
//! at most `n`) for one status and for both merged, and `resolve` moving an id.

use super::*;

/// An index with `open` and `resolved` ids (any order).
fn index(open: &[u64], resolved: &[u64]) -> StatusIndex {
    StatusIndex {
        open: open.iter().copied().collect(),
        resolved: resolved.iter().copied().collect(),
    }
}

const ALL: u64 = u64::MAX;

#[test]
fn an_empty_index_lists_nothing() {
    let idx = StatusIndex::default();
    for status in [None, Some(Status::Open), Some(Status::Resolved)] {
        assert_eq!(
            idx.ids_below(status, ALL, 10),
            Vec::<u64>::new(),
            "{status:?}"
        );
    }
}

#[test]
fn one_status_lists_its_own_ids_newest_first() {
    let idx = index(&[1, 4, 6, 9], &[2, 3, 8]);
    assert_eq!(idx.ids_below(Some(Status::Open), ALL, 10), [9, 6, 4, 1]);
    assert_eq!(idx.ids_below(Some(Status::Resolved), ALL, 10), [8, 3, 2]);
}

#[test]
fn both_statuses_merge_newest_first() {
    let idx = index(&[1, 4, 6, 9], &[2, 3, 8]);
    assert_eq!(idx.ids_below(None, ALL, 10), [9, 8, 6, 4, 3, 2, 1]);
}

#[test]
fn at_most_n_ids_are_listed_and_they_are_the_newest() {
    let idx = index(&[1, 4, 6, 9], &[2, 3, 8]);
    assert_eq!(idx.ids_below(Some(Status::Open), ALL, 2), [9, 6]);
    assert_eq!(idx.ids_below(Some(Status::Resolved), ALL, 1), [8]);
    // Merged, the newest n of both: here all from one status, then mixed.
    assert_eq!(idx.ids_below(None, ALL, 1), [9]);
    assert_eq!(idx.ids_below(None, ALL, 3), [9, 8, 6]);
    for status in [None, Some(Status::Open), Some(Status::Resolved)] {
        assert!(idx.ids_below(status, ALL, 0).is_empty(), "{status:?}");
    }
}

#[test]
fn the_cursor_id_itself_is_excluded() {
    let idx = index(&[1, 4, 6, 9], &[2, 3, 8]);
    assert_eq!(idx.ids_below(Some(Status::Open), 6, 10), [4, 1]);
    assert_eq!(idx.ids_below(Some(Status::Open), 7, 10), [6, 4, 1]);
    assert_eq!(idx.ids_below(None, 8, 3), [6, 4, 3]);
    assert_eq!(idx.ids_below(None, 1, 10), Vec::<u64>::new());
    assert_eq!(idx.ids_below(None, 0, 10), Vec::<u64>::new());
}

#[test]
fn merged_pages_take_from_one_status_when_the_other_is_older() {
    // Every resolved id is older than every open one: a page of the newest n must not
    // stop at n/2 of each.
    let idx = index(&[10, 11, 12, 13, 14], &[1, 2, 3]);
    assert_eq!(idx.ids_below(None, ALL, 4), [14, 13, 12, 11]);
    assert_eq!(idx.ids_below(None, 11, 4), [10, 3, 2, 1]);
}

#[test]
fn walking_pages_by_cursor_yields_every_id_once_newest_first() {
    // Ids 1..=40: every third resolved, with holes (ids divisible by 7 absent).
    let ids: Vec<u64> = (1..=40).filter(|i| i % 7 != 0).collect();
    let (resolved, open): (Vec<u64>, Vec<u64>) = ids.iter().partition(|i| *i % 3 == 0);
    let idx = index(&open, &resolved);
    for (status, want) in [
        (None, &ids),
        (Some(Status::Open), &open),
        (Some(Status::Resolved), &resolved),
    ] {
        let mut want = want.clone();
        want.reverse();
        for n in [1, 2, 3, 5, 100] {
            let mut walked = Vec::new();
            let mut below = ALL;
            loop {
                let page = idx.ids_below(status, below, n);
                assert!(page.len() <= n);
                match page.last() {
                    Some(&last) => below = last,
                    None => break,
                }
                walked.extend(page);
            }
            assert_eq!(walked, want, "{status:?}, n {n}");
        }
    }
}

#[test]
fn resolve_moves_an_id_from_open_to_resolved() {
    let mut idx = index(&[1, 2, 3], &[]);
    idx.resolve(2);
    assert_eq!(idx.ids_below(Some(Status::Open), ALL, 10), [3, 1]);
    assert_eq!(idx.ids_below(Some(Status::Resolved), ALL, 10), [2]);
    assert_eq!(
        idx.ids_below(None, ALL, 10),
        [3, 2, 1],
        "listed once, in id order"
    );
    // Resolving again changes nothing; the id is never in both sets.
    idx.resolve(2);
    assert_eq!(idx.ids_below(None, ALL, 10), [3, 2, 1]);
    assert!(idx.open.intersection(&idx.resolved).next().is_none());
}

#[test]
fn get_picks_the_set_of_a_status() {
    let idx = index(&[5], &[7]);
    assert_eq!(
        idx.get(Status::Open).iter().copied().collect::<Vec<_>>(),
        [5]
    );
    assert_eq!(
        idx.get(Status::Resolved)
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        [7]
    );
}
