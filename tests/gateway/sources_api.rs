//! `/v1/sources` through a real gateway that reloads from its files: list, create → post
//! to the printed URL, rotate with an overlap, remove, and the refusals.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use http::{Method, StatusCode};

use crate::harness::{fixture, Gateway, STATUSPAGE_TOKEN};

const PUBLIC: &str = "https://alerts.example.com";

/// The path and query of a URL under `PUBLIC`.
fn path_of(url: &str) -> String {
    url.strip_prefix(PUBLIC)
        .unwrap_or_else(|| panic!("{url} not under {PUBLIC}"))
        .to_owned()
}

async fn post_page(gw: &Gateway, path: &str) -> (StatusCode, serde_json::Value) {
    let (status, _, json) = gw
        .send(
            Method::POST,
            path,
            &[("content-type", "application/json")],
            fixture("statuspage/incident-investigating-critical.json"),
        )
        .await;
    (status, json)
}

/// `POST /v1/sources` `{id, integration}` as the admin.
async fn create(gw: &Gateway, id: &str, integration: &str) -> (StatusCode, serde_json::Value) {
    let body = serde_json::json!({ "id": id, "integration": integration }).to_string();
    gw.admin_send(Method::POST, "/v1/sources", &body).await
}

/// Polls `check` every 50 ms for up to `within`.
async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_shows_urls_with_a_placeholder_and_needs_the_admin_token() {
    let gw = Gateway::start_reloading(&format!("public_url: {PUBLIC}/")).await;
    let (status, _, _) = gw.send(Method::GET, "/v1/sources", &[], Vec::new()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, json) = gw.admin_get("/v1/sources").await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let sources = json["sources"].as_array().expect("list");
    let cake = sources
        .iter()
        .find(|s| s["id"] == "statuscake")
        .expect("statuscake");
    assert_eq!(
        cake["url"],
        format!("{PUBLIC}/hooks/statuscake?token=<token>")
    );
    assert_eq!(cake["methods"], serde_json::json!(["GET", "POST"]));
    assert_eq!(
        cake["content_types"],
        serde_json::json!(["application/x-www-form-urlencoded"])
    );
    assert_eq!(cake["origin"], "config");
    assert!(!json.to_string().contains("sc-test-token"), "{json}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_post_rotate_remove_through_the_api() {
    let gw = Gateway::start_reloading(&format!("public_url: {PUBLIC}")).await;
    let (status, created) = create(&gw, "pager", "statuspage").await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["reload"]["ok"], true, "{created}");
    let token = created["token"].as_str().expect("token").to_owned();
    assert_eq!(token.len(), 64);
    let url = created["url"].as_str().expect("url").to_owned();
    assert_eq!(url, format!("{PUBLIC}/hooks/pager?token={token}"));
    let file = gw.dir().join("sources.d/pager.yaml");
    assert_eq!(created["file"], file.display().to_string());
    let mode = std::fs::metadata(&file).expect("file").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let (status, json) = post_page(&gw, &path_of(&url)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
    assert_eq!(json["transition"], "opened");

    // Listed without its token, as coming from sources_dir.
    let (_, list) = gw.admin_get("/v1/sources").await;
    assert!(!list.to_string().contains(&token));
    let listed = list["sources"]
        .as_array()
        .and_then(|l| l.iter().find(|s| s["id"] == "pager").cloned())
        .expect("listed");
    assert_eq!(listed["origin"], "sources_dir");

    // Refusals: an existing id, an unknown integration, main-config sources.
    let (status, json) = create(&gw, "pager", "statuspage").await;
    assert_eq!(status, StatusCode::CONFLICT, "{json}");
    let (status, json) = create(&gw, "x", "nope").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{json}");
    assert_eq!(json["error"]["code"], "unknown_integration");
    let (status, json) = gw
        .admin_send(Method::DELETE, "/v1/sources/statuspage", "")
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{json}");
    assert!(json["error"]["message"]
        .as_str()
        .expect("m")
        .contains("main config"));
    let (status, _) = gw
        .admin_send(Method::POST, "/v1/sources/statuspage/rotate", "{}")
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = post_page(&gw, &format!("/hooks/statuspage?token={STATUSPAGE_TOKEN}")).await;
    assert_eq!(status, StatusCode::ACCEPTED);

    // Rotate with a short overlap: both tokens work, then only the new one.
    let (status, rotated) = gw
        .admin_send(
            Method::POST,
            "/v1/sources/pager/rotate",
            r#"{"overlap":"2s"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new_url = rotated["url"].as_str().expect("url").to_owned();
    assert_ne!(new_url, url);
    assert_eq!(
        post_page(&gw, &path_of(&new_url)).await.0,
        StatusCode::ACCEPTED
    );
    assert_eq!(post_page(&gw, &path_of(&url)).await.0, StatusCode::ACCEPTED);
    assert!(
        eventually(Duration::from_secs(10), || async {
            post_page(&gw, &path_of(&url)).await.0 == StatusCode::UNAUTHORIZED
        })
        .await,
        "the old token still works after its overlap"
    );
    assert_eq!(
        post_page(&gw, &path_of(&new_url)).await.0,
        StatusCode::ACCEPTED
    );

    // Remove: the file goes, the source is unknown.
    let (status, json) = gw.admin_send(Method::DELETE, "/v1/sources/pager", "").await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert!(!file.exists());
    let (status, json) = post_page(&gw, &path_of(&new_url)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{json}");
    assert_eq!(json["error"]["code"], "unknown_source");
    let (status, _) = gw.admin_send(Method::DELETE, "/v1/sources/pager", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwritable_sources_dir_is_409_saying_sources_are_files_there() {
    // /proc reads as a directory with no source files, and nobody can create files in
    // it, root included (tests run as root, so file modes would prove nothing).
    if !std::path::Path::new("/proc/self").exists() {
        println!("skipped: /proc not mounted");
        return;
    }
    let gw = Gateway::start_reloading("sources_dir: /proc").await;
    let (status, json) = create(&gw, "pager", "statuspage").await;
    assert_eq!(status, StatusCode::CONFLICT, "{json}");
    let message = json["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("sources are managed as files in"),
        "{message}"
    );
    gw.stop().await;
}
