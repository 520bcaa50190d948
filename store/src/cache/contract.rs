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
