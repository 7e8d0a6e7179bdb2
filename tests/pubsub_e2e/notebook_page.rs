//! A run's executed notebook on its page, in a real browser: a notebook with markdown, a
//! matplotlib plot, a pandas DataFrame and an HTML output written to attack the page runs for
//! real (papermill on the emulated instance); headless chromium opens its page, which must show
//! the markdown, the plot, the table, and nothing of the attack but its text: no script ran, no
//! handler or `javascript:` link is left. The screenshot is `target/tmp/run-notebook.png`.
//! Needs pandas and matplotlib where papermill's kernel runs, as the runs' other tests need
//! papermill: skipped with the reason printed where they are missing, unless required.

use std::time::Duration;

use serde_json::json;

use crate::chromium::Chromium;
use crate::deployment::Deployment;
use crate::fake_gcs::FakeGcs;
use crate::history_page::screenshot_path;
use crate::papermill::papermill_with;
use crate::runs::{BUCKET, finished_record, notebook, stage};

/// An HTML output that would run script three ways, and mark the page's `<body>` when it did;
/// its source splits each word so that the source shown as text holds none of them.
const HOSTILE: &str = "from IPython.display import HTML, display\n\
    display(HTML('<img src=x on' + 'error=\"document.body.dataset.pwned=1\">'\n\
    \x20            + '<scr' + 'ipt>document.body.dataset.pwned=2</scr' + 'ipt>'\n\
    \x20            + '<a href=\"java' + 'script:document.body.dataset.pwned=3\">link</a>'\n\
    \x20            + '<p>hostile output</p>'))";

fn report_notebook() -> Vec<u8> {
    let mut bytes = notebook(
        "rows = 4",
        &[
            "import pandas as pd\n\
             df = pd.DataFrame({'region': ['north', 'south'], 'rows': [rows, 5]})\ndf",
            "import matplotlib.pyplot as plt\n\
             plt.figure(figsize=(5, 2.5))\nplt.plot([1, 3, 2, rows])\nplt.title('rows by day')\n\
             plt.show()",
            HOSTILE,
        ],
    );
    let mut parsed: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let cells = parsed["cells"].as_array_mut().unwrap();
    cells.insert(
        0,
        json!({"cell_type": "markdown", "id": "intro", "metadata": {},
               "source": "# Sales report\n\nRows by **region**, from the day's upload."}),
    );
    bytes = serde_json::to_vec(&parsed).unwrap();
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_page_shows_its_executed_notebook_and_runs_none_of_its_script() {
    if !papermill_with(&["pandas", "matplotlib"]) {
        return;
    }
    let Some(gcs) = FakeGcs::start().await else {
        return;
    };
    let object = "nb/report/report.ipynb";
    let (storage, notebooks) = stage(&gcs, vec![(object, report_notebook())]).await;
    let extra = [("NOTEBOOK", format!("gs://{BUCKET}/{object}"))];
    let deployed = Deployment::unsubscribed(&gcs, &notebooks, "[profiles.none]\n", &extra);
    let service = &deployed.service;
    let answer = reqwest::Client::new()
        .post(service.endpoint())
        .json(&json!({"data": "VHdlZXRpTm90ZVN0YXJ0VG9waWM="}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
    let record = finished_record(&storage, Duration::from_secs(180), "default").await;
    assert_eq!(record["state"], "succeeded", "{record:#}");
    let Some(chromium) = Chromium::find() else {
        return;
    };
    let run = record["run_id"].as_str().unwrap();
    let page = format!("{}runs/{run}", service.endpoint());
    let dom = tokio::task::block_in_place(|| chromium.dom(&page));
    let notebook = dom
        .split("<section id=\"notebook\">")
        .nth(1)
        .unwrap_or_else(|| panic!("no notebook on the page:\n{dom}"));
    for shown in [
        "<h1>Sales report</h1>",
        "<strong>region</strong>",
        "<img alt=\"\" src=\"data:image/png;base64,iVBORw0KGgo",
        "<td>north</td>",
        "<p>hostile output</p>",
        "dataset.pwned=2&lt;/scr' + 'ipt&gt;",
    ] {
        assert!(
            notebook.contains(shown),
            "`{shown}` is not shown:\n{notebook}"
        );
    }
    let body = dom.split("<body").nth(1).and_then(|b| b.split('>').next());
    assert_eq!(body, Some(""), "a script marked the page: {dom}");
    for ran in ["data-pwned", "<script", "onerror", "javascript:"] {
        assert!(!dom.contains(ran), "`{ran}` is in the page:\n{notebook}");
    }
    let path = tokio::task::block_in_place(|| {
        chromium.screenshot_sized(&page, &screenshot_path("run-notebook.png"), (1280, 2000))
    });
    eprintln!("screenshot of {page}: {}", path.display());
}
