//! `infra graph`: the component graph as DOT, Mermaid or JSON (edges point from a component to
//! what it depends on).

use std::collections::BTreeSet;

use evaluator::Project;

/// An output format of `infra graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphFormat {
    Dot,
    Mermaid,
    Json,
}

/// The graph of the components in `addresses`.
pub fn render_graph(project: &Project, addresses: &[String], format: GraphFormat) -> String {
    let components: Vec<_> = {
        let wanted: BTreeSet<&str> = addresses.iter().map(String::as_str).collect();
        project.components().filter(|c| wanted.contains(c.address().as_str())).collect()
    };
    let mut out = String::new();
    match format {
        GraphFormat::Dot => {
            out.push_str("digraph infra {\n  rankdir=LR;\n");
            for c in &components {
                // Steps and waits are boxes; components keep the default ellipse.
                let shape = if c.step().is_some() { " [shape=box]" } else { "" };
                out.push_str(&format!("  \"{}\"{shape};\n", c.address()));
            }
            for c in &components {
                for target in &c.depends_on {
                    out.push_str(&format!("  \"{}\" -> \"{target}\";\n", c.address()));
                }
            }
            out.push_str("}\n");
        }
        GraphFormat::Mermaid => {
            out.push_str("flowchart LR\n");
            // Node ids by position: addresses may hold characters Mermaid ids cannot.
            let ids: std::collections::BTreeMap<String, String> = components
                .iter()
                .enumerate()
                .map(|(i, c)| (c.address(), format!("n{i}")))
                .collect();
            for c in &components {
                out.push_str(&format!("  {}[\"{}\"]\n", ids[&c.address()], c.address()));
            }
            for c in &components {
                for target in &c.depends_on {
                    if let Some(target_id) = ids.get(target) {
                        out.push_str(&format!("  {} --> {target_id}\n", ids[&c.address()]));
                    }
                }
            }
        }
        GraphFormat::Json => {
            let nodes: Vec<serde_json::Value> = components
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "address": c.address(),
                        "kind": c.kind_name(),
                        "stack": c.stack,
                        "name": c.name,
                        "dependsOn": c.depends_on,
                        "reads": c.reads.iter().map(|r| format!("{}#{}", r.address, r.output)).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let doc = serde_json::json!({ "version": 1, "components": nodes });
            out.push_str(&serde_json::to_string_pretty(&doc).unwrap_or_default());
            out.push('\n');
        }
    }
    out
}
