//! Template parsing and rendering. Input: template text, a newline, a payload (JSON when
//! it starts with `{`/`[`, else a form). Never panics; a strict render that succeeds is
//! the lossy render; the template's `reads()` shape renders the same as the whole payload.
#![no_main]

use alertgate::decode::Shape;
use alertgate::mapping::Template;
use alertgate_fuzz::{payload, shallow, split_line};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((source, body)) = split_line(data) else {
        return;
    };
    if !shallow(source) {
        return; // deep nesting: the known parser stack overflow, tracked apart
    }
    let Ok(template) = Template::parse(source) else {
        return;
    };
    let Some(whole) = payload(body, &Shape::All) else {
        return;
    };
    let strict = template.render_strict(&whole);
    let lossy = template.render_lossy(&whole);
    if let Ok(s) = &strict {
        assert_eq!(
            Some(s),
            lossy.as_ref().ok(),
            "strict and lossy agree when strict succeeds"
        );
    }
    let part = payload(body, &template.reads()).expect("decodes under a shape when whole");
    let text = |r: Result<String, String>| r;
    assert_eq!(
        text(strict.map_err(|e| e.to_string())),
        text(template.render_strict(&part).map_err(|e| e.to_string())),
        "shaped decode renders the same"
    );
    assert_eq!(
        lossy.map_err(|e| e.to_string()),
        template.render_lossy(&part).map_err(|e| e.to_string()),
        "shaped decode renders the same"
    );
});
