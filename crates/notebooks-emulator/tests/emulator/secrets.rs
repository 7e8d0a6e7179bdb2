//! Secret Manager on the emulator's port, as a client without credentials (the project's owner)
//! sees it: create a secret, add versions, read them, and Google's shapes for what fails.

use super::*;

const SECRETS: &str = "/secretmanager/v1/projects/p/secrets";

#[tokio::test]
async fn a_secret_is_created_given_versions_and_read_back_in_googles_shapes() {
    let api = Api::fast().await;
    let (status, secret) = api
        .call(
            "POST",
            &format!("{SECRETS}?secretId=db-password"),
            Some(json!({"replication": {"automatic": {}}, "labels": {"team": "ml"}})),
        )
        .await;
    assert_eq!(status, 200, "{secret}");
    assert_eq!(secret["name"], "projects/p/secrets/db-password");
    assert_eq!(secret["labels"]["team"], "ml");
    // "s3cr3t\n" and "second", with a client's CRC32C on the first, the colon sent encoded.
    let (status, version) = api
        .call(
            "POST",
            &format!("{SECRETS}/db-password%3AaddVersion"),
            Some(json!({"payload": {"data": "czNjcjN0Cg==", "dataCrc32c": "108781934"}})),
        )
        .await;
    assert_eq!(status, 200, "{version}");
    assert_eq!(version["name"], "projects/p/secrets/db-password/versions/1");
    assert_eq!(version["state"], "ENABLED");
    assert_eq!(version["clientSpecifiedPayloadChecksum"], true);
    let (status, _) = api
        .call(
            "POST",
            &format!("{SECRETS}/db-password:addVersion"),
            Some(json!({"payload": {"data": "c2Vjb25k"}})),
        )
        .await;
    assert_eq!(status, 200);

    for (version, name, data, crc) in [
        ("latest", "versions/2", "c2Vjb25k", "2063438888"),
        ("1", "versions/1", "czNjcjN0Cg==", "108781934"),
    ] {
        let path = format!("{SECRETS}/db-password/versions/{version}:access");
        let (status, access) = api.call("GET", &path, None).await;
        assert_eq!(status, 200, "{access}");
        assert_eq!(
            access,
            json!({
                "name": format!("projects/p/secrets/db-password/{name}"),
                "payload": {"data": data, "dataCrc32c": crc},
            })
        );
    }
}

#[tokio::test]
async fn what_fails_fails_with_googles_codes_and_messages() {
    let api = Api::fast().await;
    let path = format!("{SECRETS}?secretId=db");
    let body = json!({"replication": {"automatic": {}}});
    assert_eq!(api.call("POST", &path, Some(body.clone())).await.0, 200);
    let (status, body) = api.call("POST", &path, Some(body)).await;
    let message = google_error(status, &body, 409, "ALREADY_EXISTS");
    assert_eq!(message, "Secret [projects/p/secrets/db] already exists.");

    let (status, body) = api
        .call("GET", &format!("{SECRETS}/db/versions/latest:access"), None)
        .await;
    let message = google_error(status, &body, 404, "NOT_FOUND");
    assert_eq!(
        message,
        "Secret [projects/p/secrets/db] not found or has no versions."
    );
    let (status, body) = api
        .call("GET", &format!("{SECRETS}/none/versions/3:access"), None)
        .await;
    let message = google_error(status, &body, 404, "NOT_FOUND");
    assert_eq!(
        message,
        "Secret Version [projects/p/secrets/none/versions/3] not found."
    );
    let (status, body) = api
        .call(
            "POST",
            &format!("{SECRETS}/db:addVersion"),
            Some(json!({"payload": {"data": "YQ==", "dataCrc32c": "7"}})),
        )
        .await;
    google_error(status, &body, 400, "INVALID_ARGUMENT");

    // A token the emulator never issued is refused, as Google refuses one it did not issue.
    let response = api
        .client
        .get(format!(
            "{}{SECRETS}/db/versions/latest:access",
            api.emulator.base_url()
        ))
        .bearer_auth("ya29.someone-elses")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    google_error(
        status,
        &response.json().await.unwrap(),
        401,
        "UNAUTHENTICATED",
    );

    let (status, body) = api.call("GET", &format!("{SECRETS}/db"), None).await;
    let message = google_error(status, &body, 501, "UNIMPLEMENTED");
    assert!(message.contains("versions.access"), "{message}");
}
