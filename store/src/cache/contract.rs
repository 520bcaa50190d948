//! What every `RemoteCache` backend must do, as one check each backend's tests run (memory and
//! directory in the unit tests, HTTP against a real nginx in the integration tests). It uses
//! the keys `cas/contract-check` and `refs/contract/check`.

use crate::cache::RemoteCache;

/// Runs the contract against `cache`; the error says which promise failed.
pub async fn check_contract(cache: &dyn RemoteCache) -> Result<(), String> {
    let expect = |ok: bool, what: &str| if ok { Ok(()) } else { Err(what.to_owned()) };
    let key = "cas/contract-check";
    expect(cache.get(key).await == Ok(None), "a missing key is a miss, not an error")?;
    expect(cache.has(key).await == Ok(false), "`has` of a missing key is false")?;
    cache.put(key, b"one".to_vec()).await.map_err(|e| format!("put: {e}"))?;
    expect(cache.get(key).await == Ok(Some(b"one".to_vec())), "get returns what put stored")?;
    expect(cache.has(key).await == Ok(true), "`has` of a stored key is true")?;
    cache.put(key, b"one".to_vec()).await.map_err(|e| format!("a second put failed: {e}"))?;
    cache
        .put("refs/contract/check", b"record".to_vec())
        .await
        .map_err(|e| format!("nested: {e}"))?;
    expect(
        cache.get("refs/contract/check").await == Ok(Some(b"record".to_vec())),
        "nested keys round-trip",
    )?;
    expect(cache.put("../escape", b"x".to_vec()).await.is_err(), "keys stay inside the cache")?;
    expect(cache.get("refs/../../x").await.is_err(), "`..` is rejected")?;
    Ok(())
}

/// The conditional writes a lock needs (`put_if`, `get_versioned`, `delete`), for the
/// backends that have them; uses the key `locks/contract-check`.
pub async fn check_conditional_contract(cache: &dyn RemoteCache) -> Result<(), String> {
    let expect = |ok: bool, what: &str| if ok { Ok(()) } else { Err(what.to_owned()) };
    let fail = |what: &str, e: crate::cache::CacheError| format!("{what}: {e}");
    let key = "locks/contract-check";
    cache.delete(key).await.map_err(|e| fail("delete of a missing key", e))?;
    let first = cache.put_if(key, b"a".to_vec(), None).await.map_err(|e| fail("create", e))?;
    expect(first.is_some(), "create-if-absent of a missing key writes it")?;
    let again = cache.put_if(key, b"b".to_vec(), None).await.map_err(|e| fail("create", e))?;
    expect(again.is_none(), "create-if-absent of an existing key does not write")?;
    let (bytes, version) = cache
        .get_versioned(key)
        .await
        .map_err(|e| fail("get_versioned", e))?
        .ok_or("get_versioned of a stored key is a miss")?;
    expect(bytes == b"a", "the first writer's bytes stay")?;
    let stale = cache
        .put_if(key, b"c".to_vec(), Some("\"not-the-version\""))
        .await
        .map_err(|e| fail("update", e))?;
    expect(stale.is_none(), "an update with a stale version does not write")?;
    let updated =
        cache.put_if(key, b"d".to_vec(), Some(&version)).await.map_err(|e| fail("update", e))?;
    expect(updated.is_some(), "an update with the current version writes")?;
    let old =
        cache.put_if(key, b"e".to_vec(), Some(&version)).await.map_err(|e| fail("update", e))?;
    expect(old.is_none(), "the version before an update is stale after it")?;
    expect(cache.get(key).await == Ok(Some(b"d".to_vec())), "the update is what get returns")?;
    cache.delete(key).await.map_err(|e| fail("delete", e))?;
    expect(cache.get(key).await == Ok(None), "a deleted key is a miss")?;
    Ok(())
}
