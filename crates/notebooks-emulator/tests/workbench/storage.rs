//! The Cloud Storage calls scripts and the demo make, against the emulator's own store and
//! against fake-gcs-server: one test body, two backends.

use super::*;

async fn objects_round_trip(backend: Storage) {
    let workbench = Workbench::start(backend, false).await;
    let storage = &workbench.storage;
    storage
        .ensure_bucket("p", BUCKET)
        .await
        .expect("an existing bucket is fine");
    for name in ["dir/a.txt", "dir/b.txt", "other/c.txt", "dir/sub/d.txt"] {
        let meta = storage
            .upload(
                BUCKET,
                name,
                "text/plain",
                format!("contents of {name}").into_bytes(),
            )
            .await
            .expect("uploaded");
        assert_eq!(meta["name"], name);
        assert_eq!(meta["bucket"], BUCKET);
    }
    assert_eq!(
        storage.download(BUCKET, "dir/a.txt").await.unwrap(),
        b"contents of dir/a.txt"
    );
    let meta = storage.metadata(BUCKET, "dir/sub/d.txt").await.unwrap();
    assert_eq!(meta["size"], "contents of dir/sub/d.txt".len().to_string());
    assert_eq!(meta["contentType"], "text/plain");
    assert!(meta["generation"].as_str().is_some_and(|g| !g.is_empty()));
    let mut listed = storage.list(BUCKET, "dir/").await.unwrap();
    listed.sort();
    assert_eq!(listed, ["dir/a.txt", "dir/b.txt", "dir/sub/d.txt"]);

    storage
        .upload(BUCKET, "dir/a.txt", "text/plain", b"again".to_vec())
        .await
        .unwrap();
    assert_eq!(
        storage.download(BUCKET, "dir/a.txt").await.unwrap(),
        b"again"
    );

    // A bounded read takes an object of the bound, and stops at one past it.
    let big = vec![b'x'; 300 * 1024];
    storage
        .upload(
            BUCKET,
            "dir/big.bin",
            "application/octet-stream",
            big.clone(),
        )
        .await
        .unwrap();
    let at_most = |max| storage.download_at_most(BUCKET, "dir/big.bin", max);
    assert_eq!(at_most(big.len()).await.unwrap(), Some(big.clone()));
    assert_eq!(at_most(big.len() - 1).await.unwrap(), None);
    assert_eq!(at_most(10).await.unwrap(), None);
    storage
        .upload(BUCKET, "dir/big.bin", "text/plain", Vec::new())
        .await
        .unwrap();
    assert_eq!(at_most(0).await.unwrap(), Some(Vec::new()));

    let missing = storage.download(BUCKET, "dir/none.txt").await.unwrap_err();
    assert_eq!(missing.status().map(|s| s.as_u16()), Some(404), "{missing}");
    let no_bucket = storage
        .upload("no-such-bucket", "x", "text/plain", b"x".to_vec())
        .await
        .unwrap_err();
    assert_eq!(
        no_bucket.status().map(|s| s.as_u16()),
        Some(404),
        "{no_bucket}"
    );
    workbench.emulator.shutdown().await;
}

#[tokio::test]
async fn objects_round_trip_in_the_emulators_own_storage() {
    objects_round_trip(Storage::Local).await;
}

#[tokio::test]
async fn objects_round_trip_in_fake_gcs_server() {
    if let Some(fake) = Storage::fake().await {
        objects_round_trip(fake).await;
    }
}

#[tokio::test]
async fn the_emulators_storage_pages_lists_and_refuses_tokens_it_did_not_issue() {
    let workbench = Workbench::start(Storage::Local, false).await;
    for i in 0..5 {
        workbench
            .storage
            .upload(BUCKET, &format!("n/{i}"), "text/plain", vec![b'x'])
            .await
            .unwrap();
    }
    let base = workbench.emulator.storage_url();
    let page: Value = workbench
        .http
        .get(format!(
            "{base}/storage/v1/b/{BUCKET}/o?prefix=n/&maxResults=2"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let token = page["nextPageToken"].as_str().expect("a next page");
    let rest: Value = workbench
        .http
        .get(format!(
            "{base}/storage/v1/b/{BUCKET}/o?prefix=n/&maxResults=10&pageToken={token}"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = rest["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["n/2", "n/3", "n/4"]);
    assert!(rest.get("nextPageToken").is_none());
    let delimited: Value = workbench
        .http
        .get(format!("{base}/storage/v1/b/{BUCKET}/o?delimiter=/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(delimited["prefixes"], json!(["n/"]));

    let refused = StorageClient::new(reqwest::Url::parse(&base).unwrap())
        .with_token("ya29.a-token-from-elsewhere")
        .download(BUCKET, "n/0")
        .await
        .unwrap_err();
    assert_eq!(refused.status().map(|s| s.as_u16()), Some(401), "{refused}");
    workbench.emulator.shutdown().await;
}
