//! Store unit tests: canonical hashing, atomic objects, realisations, verify and gc.

use std::{collections::BTreeMap, fs};

use crate::{Digest, Entry, ObjectName, Store, hash_tree_dir};

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

#[test]
fn digest_short_names_are_32_base32_characters() {
    let digest = Digest::of(b"hello");
    let short = digest.short();
    assert_eq!(short.len(), 32);
    assert!(ObjectName::parse(&format!("{short}-x")).is_some());
    assert_eq!(Digest::from_hex(&digest.to_hex()), Some(digest));
}

#[test]
fn a_batch_syncs_once_and_what_a_crash_left_half_written_is_removed_on_open() {
    let dir = temp();
    let store = Store::open(dir.path()).unwrap();
    let markers = |root: &std::path::Path| {
        fs::read_dir(root.join(".batches"))
            .map(|entries| {
                entries
                    .flatten()
                    .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                    .count()
            })
            .unwrap_or(0)
    };
    // A batch that writes nothing leaves nothing; one that writes leaves its marker until the
    // commit, and its objects afterwards.
    store.batch().commit().unwrap();
    assert_eq!(markers(dir.path()), 0);
    let batch = store.batch();
    let (kept, _) = batch.store().add_bytes("kept", b"kept", false).unwrap();
    assert_eq!(markers(dir.path()), 1);
    batch.commit().unwrap();
    assert_eq!(markers(dir.path()), 0);
    assert!(store.contains(&kept));

    // A process killed mid-batch (the stand-in: the marker left unlocked), whose crash lost
    // the content of one object (the stand-in: the file emptied).
    let batch = store.batch();
    let (good, _) = batch.store().add_bytes("good", b"good bytes", false).unwrap();
    let (lost, entry) = batch.store().add_bytes("lost", b"lost bytes", false).unwrap();
    let files = BTreeMap::from([("f".to_owned(), (lost.clone(), entry))]);
    let (tree, _) = batch.store().add_dir("tree", &files).unwrap();
    batch.abandon();
    empty(&store, &lost);
    // The next opening re-hashes what the batch wrote: the emptied object goes, and the
    // directory made of it (its file shares the emptied inode); the intact ones stay.
    let reopened = Store::open(dir.path()).unwrap();
    assert!(!reopened.contains(&lost));
    assert!(!reopened.contains(&tree));
    assert!(reopened.contains(&good) && reopened.contains(&kept));
    assert_eq!(markers(dir.path()), 0);
    assert!(reopened.verify().unwrap().is_empty());
}

#[test]
fn realisations_are_logs_that_outlive_the_process_skip_torn_lines_and_gc_folds() {
    let dir = temp();
    let store = Store::open(dir.path()).unwrap();
    let (a, _) = store.add_bytes("a", b"a", false).unwrap();
    let (b, _) = store.add_bytes("b", b"b", false).unwrap();
    let (da, db, dc) = (Digest::of(b"da"), Digest::of(b"db"), Digest::of(b"dc"));
    store.add_realisation(&da, &a).unwrap();
    // A crash tore the last line of another process's append (to `db`'s shard).
    let shard =
        |d: &Digest| dir.path().join(".realisations.d").join(format!("{}.log", &d.to_hex()[..2]));
    assert!(shard(&da).is_file());
    let mut text = fs::read_to_string(shard(&db)).unwrap_or_default();
    text.push_str(&format!("{} {}", db.to_hex(), &b.as_str()[..10]));
    fs::write(shard(&db), text).unwrap();
    // A store made before the log: a file per realisation.
    fs::create_dir_all(dir.path().join(".realisations")).unwrap();
    fs::write(dir.path().join(".realisations").join(dc.to_hex()), format!("{b}\n")).unwrap();
    let reopened = Store::open(dir.path()).unwrap();
    assert_eq!(reopened.realisation(&da), Some(a.clone()));
    assert_eq!(reopened.realisation(&db), None, "a torn line is a miss");
    assert_eq!(reopened.realisation(&dc), Some(b.clone()), "an older store's file is read");
    // gc keeps what roots name: `b` goes, and with it its realisation; the file is folded.
    reopened.set_root("keep", &[a.clone()].into()).unwrap();
    reopened.gc().unwrap();
    assert!(!dir.path().join(".realisations").join(dc.to_hex()).exists());
    let after = Store::open(dir.path()).unwrap();
    assert_eq!(after.realisation(&da), Some(a));
    assert_eq!(after.realisation(&dc), None);
    // One live realisation is left, in its shard; the others' shards are gone.
    assert_eq!(fs::read_to_string(shard(&da)).unwrap().lines().count(), 1);
    let shards = fs::read_dir(dir.path().join(".realisations.d")).unwrap().count();
    assert_eq!(shards, 1);
}

#[test]
fn tree_hash_ignores_location_and_times_but_not_content_or_mode() {
    let a = temp();
    let b = temp();
    for root in [a.path(), b.path()] {
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::write(root.join("main.tf"), "x").unwrap();
        fs::write(root.join("sub/v.tf"), "y").unwrap();
    }
    let keep_all = |_: &std::path::Path, _: bool| true;
    let ha = hash_tree_dir(a.path(), &keep_all).unwrap().digest();
    assert_eq!(ha, hash_tree_dir(b.path(), &keep_all).unwrap().digest());
    fs::write(b.path().join("sub/v.tf"), "z").unwrap();
    assert_ne!(ha, hash_tree_dir(b.path(), &keep_all).unwrap().digest());
    fs::write(b.path().join("sub/v.tf"), "y").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(b.path().join("main.tf"), fs::Permissions::from_mode(0o755)).unwrap();
        assert_ne!(ha, hash_tree_dir(b.path(), &keep_all).unwrap().digest());
    }
}

#[test]
fn objects_are_read_only_verified_and_collected() {
    let dir = temp();
    let store = Store::open(dir.path()).unwrap();
    let (file, entry) = store.add_bytes("main.tf", b"variable \"x\" {}\n", false).unwrap();
    let (again, _) = store.add_bytes("main.tf", b"variable \"x\" {}\n", false).unwrap();
    assert_eq!(file, again);
    assert!(fs::metadata(store.path(&file)).unwrap().permissions().readonly());
    let files = BTreeMap::from([("m/main.tf".to_owned(), (file.clone(), entry))]);
    let (workdir, _) = store.add_dir("dev-vpc", &files).unwrap();
    assert_eq!(
        fs::read_to_string(store.path(&workdir).join("m/main.tf")).unwrap(),
        "variable \"x\" {}\n"
    );
    assert_eq!(store.verify().unwrap(), vec![]);

    let drv = Digest::of(b"a derivation");
    assert_eq!(store.realisation(&drv), None);
    store.add_realisation(&drv, &workdir).unwrap();
    assert_eq!(store.realisation(&drv), Some(workdir.clone()));

    let (garbage, _) = store.add_bytes("old.tf", b"old", false).unwrap();
    store.set_root("build", &[file.clone(), workdir.clone()].into_iter().collect()).unwrap();
    let report = store.gc().unwrap();
    assert_eq!(report.removed, vec![garbage.clone()]);
    assert!(!store.contains(&garbage) && store.contains(&file) && store.contains(&workdir));

    // Corrupt an object behind the store's back: verify names it.
    let path = store.path(&file);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    }
    fs::write(&path, "tampered").unwrap();
    let problems = store.verify().unwrap();
    assert_eq!(problems.len(), 2, "{problems:?}"); // the file, and the directory sharing its inode
    assert!(problems.iter().any(|p| p.object == file.to_string()));

    // Dropping the roots collects everything, read-only directories included.
    store.set_root("build", &Default::default()).unwrap();
    let report = store.gc().unwrap();
    assert_eq!(report.kept, 0);
    assert!(store.objects().unwrap().is_empty());
    assert_eq!(store.realisation(&drv), None);
    let _ = Entry::Symlink(String::new());
}

#[test]
fn concurrent_writers_of_one_object_both_succeed() {
    let dir = temp();
    let store = Store::open(dir.path()).unwrap();
    let (file, entry) = store.add_bytes("a", b"a", false).unwrap();
    let files = BTreeMap::from([("a".to_owned(), (file, entry))]);
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8).map(|_| s.spawn(|| store.add_dir("d", &files))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let names: Vec<_> = results.into_iter().map(|r| r.unwrap().0).collect();
    assert!(names.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(store.objects().unwrap().len(), 2);
    let leftovers = fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
        .count();
    assert_eq!(leftovers, 0);
}

#[cfg(feature = "remote")]
mod remote {
    use std::collections::BTreeMap;

    use crate::{
        Digest, Store,
        cache::{
            FileCache, MemoryCache, archive_object, check_conditional_contract, check_contract,
            unpack_object,
        },
    };

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
    }

    #[test]
    fn a_lease_is_held_by_one_taken_over_after_it_expires_and_released_by_its_holder() {
        use crate::cache::lock::{Attempt, Lease, release, renew, try_take};
        let lease = |who: &str, now: u64| Lease {
            holder: who.into(),
            token: format!("{who}-token"),
            since: now,
            expires: now + 10,
        };
        let cache = MemoryCache::default();
        let key = "locks/estate";
        runtime().block_on(async {
            let a = try_take(&cache, key, &lease("a", 100), 100).await.expect("a");
            let Attempt::Taken { version: a_version, expired: None } = a else {
                panic!("a takes a free lock: {a:?}")
            };
            let b = try_take(&cache, key, &lease("b", 105), 105).await.expect("b");
            assert!(matches!(&b, Attempt::Held(held) if held.holder == "a"), "{b:?}");
            // A renews; B still waits at 112 (A's lease now runs to 113).
            let renewed = renew(&cache, key, &lease("a", 103), &a_version).await.expect("renew");
            assert!(renewed.is_some());
            let b = try_take(&cache, key, &lease("b", 112), 112).await.expect("b");
            assert!(matches!(b, Attempt::Held(_)), "{b:?}");
            // A stops renewing: at 114 B takes the lock over and names the expired holder.
            let b = try_take(&cache, key, &lease("b", 114), 114).await.expect("b");
            let Attempt::Taken { version: b_version, expired: Some(expired) } = b else {
                panic!("{b:?}")
            };
            assert_eq!(expired.holder, "a");
            // A's renewal fails now (its version is gone), and its release leaves B's lock.
            let late = renewed.expect("a version");
            assert_eq!(renew(&cache, key, &lease("a", 115), &late).await.expect("renew"), None);
            release(&cache, key, &lease("a", 103), &late).await.expect("release");
            assert!(matches!(
                try_take(&cache, key, &lease("c", 115), 115).await,
                Ok(Attempt::Held(_))
            ));
            // B taking it again (its create's answer lost) finds its own lease: taken.
            let again = try_take(&cache, key, &lease("b", 115), 115).await.expect("b");
            assert!(matches!(again, Attempt::Taken { expired: None, .. }), "{again:?}");
            // B releases: the lease is written as expired, and C takes it at once (free, not
            // taken over).
            release(&cache, key, &lease("b", 114), &b_version).await.expect("release");
            let c = try_take(&cache, key, &lease("c", 116), 116).await.expect("c");
            assert!(matches!(c, Attempt::Taken { expired: None, .. }), "{c:?}");
        });
    }

    #[test]
    fn memory_and_file_backends_pass_the_contract() {
        let dir = tempfile::tempdir().expect("dir");
        runtime().block_on(async {
            check_contract(&MemoryCache::default()).await.expect("memory backend");
            check_contract(&FileCache::new(dir.path().to_path_buf())).await.expect("file backend");
            check_conditional_contract(&MemoryCache::default()).await.expect("memory backend");
            let file = FileCache::new(dir.path().to_path_buf());
            check_conditional_contract(&file).await.expect("file backend");
            // A shared directory: what one user writes, the others can read.
            use crate::cache::RemoteCache;
            file.put("refs/dev/shared", b"x".to_vec()).await.expect("put");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let meta = std::fs::metadata(dir.path().join("refs/dev/shared")).expect("meta");
                assert_eq!(meta.permissions().mode() & 0o777, 0o644);
            }
        });
    }

    #[test]
    fn archives_round_trip_and_tampering_is_rejected() {
        let a = tempfile::tempdir().expect("dir");
        let b = tempfile::tempdir().expect("dir");
        let (store, other) =
            (Store::open(a.path()).expect("store"), Store::open(b.path()).expect("store"));
        let (main, main_entry) = store.add_bytes("main.tf", b"x", false).expect("add");
        let (run, run_entry) = store.add_bytes("run.sh", b"#!/bin/sh\n", true).expect("add");
        let files = BTreeMap::from([
            ("main.tf".to_owned(), (main, main_entry)),
            ("bin/run.sh".to_owned(), (run, run_entry)),
        ]);
        let (dir, tree) = store.add_dir("dev-vpc", &files).expect("dir");
        let archive = archive_object(&store, &dir).expect("archive");
        let unpacked = unpack_object(&other, &archive, &tree.digest()).expect("unpack");
        assert_eq!(unpacked, dir, "same name on the other machine");
        assert!(other.verify().expect("verify").is_empty());
        let mut tampered = archive.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        let c = tempfile::tempdir().expect("dir");
        let third = Store::open(c.path()).expect("store");
        assert!(unpack_object(&third, &tampered, &tree.digest()).is_err());
        assert!(
            third.objects().expect("objects").is_empty(),
            "nothing written for a rejected object"
        );
        assert!(unpack_object(&third, &archive, &Digest::of(b"other")).is_err());
    }
}

#[test]
fn roots_of_a_big_build_are_named_by_what_they_hold_and_replace_older_files() {
    let dir = temp();
    let store = Store::open(dir.path()).unwrap();
    let (a, _) = store.add_bytes("a", b"a", false).unwrap();
    let (b, _) = store.add_bytes("b", b"b", false).unwrap();
    let files = |store: &Store| store.root_files().unwrap().into_iter().collect::<Vec<_>>();
    // A root set alone (a run of one component) is the file `NAME`.
    store.set_root("build.dev.app", &[a.clone()].into()).unwrap();
    assert_eq!(files(&store), ["build.dev.app"]);
    // A build of many sets it as `NAME@HASH`, and the older file goes.
    let present = store.root_files().unwrap();
    store.set_root_in("build.dev.app", &[a.clone()].into(), &present).unwrap();
    let first = files(&store);
    assert_eq!(first.len(), 1);
    assert!(first[0].starts_with("build.dev.app@"), "{first:?}");
    // The same objects: nothing written, nothing read.
    let present = store.root_files().unwrap();
    store.set_root_in("build.dev.app", &[a.clone()].into(), &present).unwrap();
    assert_eq!(files(&store), first);
    // Other objects: one file again, holding them; gc keeps them and drops `a`.
    store.set_root_in("build.dev.app", &[b.clone()].into(), &present).unwrap();
    let second = files(&store);
    assert_eq!(second.len(), 1);
    assert_ne!(second, first);
    assert_eq!(store.roots().unwrap(), [b.clone()].into());
    // Set alone again: both files name live objects until the next big build.
    store.set_root("build.dev.app", &[a.clone()].into()).unwrap();
    assert_eq!(store.roots().unwrap(), [a.clone(), b.clone()].into());
    let present = store.root_files().unwrap();
    store.set_root_in("build.dev.app", &[a.clone()].into(), &present).unwrap();
    assert_eq!(store.roots().unwrap(), [a.clone()].into());
    assert_eq!(store.gc().unwrap().removed, vec![b.clone()]);
    // `remove_roots_except` knows roots by name, whatever their file.
    store.set_root("build.dev.db", &[a.clone()].into()).unwrap();
    store.remove_roots_except("build.", &["build.dev.db".to_owned()].into()).unwrap();
    assert_eq!(files(&store), ["build.dev.db"]);
}

#[test]
fn an_earlier_versions_marker_and_a_torn_hashed_root_are_repaired_on_open() {
    let dir = temp();
    let store = Store::open(dir.path()).unwrap();
    let (good, _) = store.add_bytes("good", b"good bytes", false).unwrap();
    let (lost, _) = store.add_bytes("lost", b"lost bytes", false).unwrap();
    // A big build's root, named by what it holds; then the crash cuts it and an object short
    // (the stand-ins: the files emptied).
    let present = store.root_files().unwrap();
    store.set_root_in("build.dev.app", &[good.clone()].into(), &present).unwrap();
    let root_file = store.root_files().unwrap().into_iter().next().unwrap();
    fs::write(dir.path().join(".roots").join(&root_file), "").unwrap();
    empty(&store, &lost);
    // The batch was an earlier version's: its marker (unlocked: its process died) is in the
    // store's root, and there is no `.batches/` yet.
    fs::remove_dir_all(dir.path().join(".batches")).unwrap();
    fs::write(dir.path().join(".batch-1-0"), "0\n").unwrap();
    let reopened = Store::open(dir.path()).unwrap();
    assert!(!dir.path().join(".batch-1-0").exists(), "the marker was recovered");
    assert!(!reopened.contains(&lost), "the short object went");
    assert!(reopened.contains(&good));
    assert!(reopened.root_files().unwrap().is_empty(), "the short root went");
    assert!(dir.path().join(".batches").is_dir());
}

/// The stand-in for what a crash leaves of an object written without its fsync: the file,
/// read-only in the store, emptied.
fn empty(store: &Store, object: &ObjectName) {
    let path = store.path(object);
    let mut permissions = fs::metadata(&path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    fs::set_permissions(&path, permissions).unwrap();
    fs::write(&path, b"").unwrap();
}
