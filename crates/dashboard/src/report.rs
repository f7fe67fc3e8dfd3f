//! The dashboard as one self-contained HTML file: the same page, with its style, script, data
//! and pictures inline (pictures as `data:` URIs), openable offline by double-click.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::hub::Hub;
use crate::server::{APP_JS, INDEX_HTML, STYLE_CSS};
use crate::state::{DashState, Sample};

/// `<script>`-safe JSON: `</` would end the script element early.
fn script_json(json: &str) -> String {
    json.replace("</", "<\\/")
}

/// The page for `hub`'s state, everything inline.
pub fn render(hub: &Hub) -> String {
    let images = hub.images();
    let inline = |url: &mut Option<String>| {
        let key = url
            .as_deref()
            .and_then(|u| u.strip_prefix("/img/"))
            .map(|k| k.split('?').next().unwrap_or(k).to_string());
        *url = key
            .and_then(|k| images.get(&k))
            .map(|png| format!("data:image/png;base64,{}", STANDARD.encode(png)));
    };
    let mut state: DashState = hub.with_state(|s| s.clone());
    for card in &mut state.layers {
        inline(&mut card.activation_image);
        inline(&mut card.filter_image);
        inline(&mut card.filter_grad_image);
    }
    let inline_samples = |samples: &mut Vec<Sample>| {
        for s in samples.iter_mut() {
            let mut url = Some(std::mem::take(&mut s.image));
            inline(&mut url);
            s.image = url.unwrap_or_default();
        }
    };
    inline_samples(&mut state.samples);
    inline_samples(&mut state.misclassified);
    let data = serde_json::to_string(&state).unwrap_or_else(|_| "{}".into());
    INDEX_HTML
        .replace(
            r#"<link rel="stylesheet" href="style.css">"#,
            &format!("<style>\n{STYLE_CSS}</style>"),
        )
        .replace(
            r#"<script src="app.js"></script>"#,
            &format!(
                "<script>window.CONVNET_STATIC = {};</script>\n<script>\n{}</script>",
                script_json(&data),
                script_json(APP_JS)
            ),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::LayerCard;

    #[test]
    fn everything_is_inline() {
        let hub = Hub::new(DashState {
            layers: vec![LayerCard {
                name: "features.0".into(),
                activation_image: Some("/img/act/features.0?v=3".into()),
                filter_image: Some("/img/missing?v=1".into()),
                ..LayerCard::default()
            }],
            ..DashState::default()
        });
        hub.put_image("act/features.0", vec![0x89, b'P', b'N', b'G']);
        let html = render(&hub);
        assert!(html.contains("data:image/png;base64,iVBORw=="), "{html}");
        assert!(!html.contains("/img/"), "a picture left as a link");
        assert!(!html.contains("src=\"app.js\"") && !html.contains("href=\"style.css\""));
        assert!(html.contains("window.CONVNET_STATIC = {"));
        assert!(html.contains(".card {"), "the style is inline");
    }
}
