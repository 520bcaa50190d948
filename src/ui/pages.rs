//! The HTML of the web view: one page shell (inline CSS, no external assets), the graph (an
//! SVG laid out in layers: a node's column is the length of the longest chain of nodes it
//! depends on), a node's page, the history, messages. Everything shown is escaped.

use std::{collections::BTreeMap, fmt::Write as _};

use super::{App, HistoryFilter, state};

/// `<`, `>`, `&` and quotes as entities.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { background: #1d2330; color: #fff; padding: 10px 20px; }
header a { color: #fff; margin-right: 18px; text-decoration: none; font-weight: 600; }
main { padding: 16px 20px; }
table { border-collapse: collapse; background: #fff; margin: 8px 0 16px; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid #e3e6eb; vertical-align: top; }
code, pre { font: 12px/1.4 ui-monospace, monospace; }
pre { background: #fff; border: 1px solid #e3e6eb; padding: 8px; overflow: auto; max-height: 420px; }
.state { display: inline-block; padding: 1px 8px; border-radius: 9px; font-size: 12px; color: #fff; }
.up-to-date, .applied, .destroyed, .succeeded { background: #2f7d4f; } .skipped { background: #7d8592; } .changed, .planned, .upstream-changed, .would-run { background: #b07b12; }
.pending, .waiting { background: #5b6b86; } .awaiting-approval { background: #6a3fb5; }
.failed, .denied, .interrupted { background: #b3261e; } .never-applied { background: #7d8592; }
.deny { color: #b3261e; } .warn, .wait { color: #8a5a00; }
svg a text { font: 12px system-ui, sans-serif; }
button { font: inherit; padding: 4px 14px; }
";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} — infra</title>\
         <style>{STYLE}</style></head><body><header><a href=\"/\">infra</a><a href=\"/\">Graph</a>\
         <a href=\"/history\">History</a></header><main>{body}</main></body></html>",
        esc(title)
    )
}

fn badge(state: &str) -> String {
    format!("<span class=\"state {0}\" data-state=\"{0}\">{0}</span>", esc(state))
}

fn link(address: &str) -> String {
    format!("<a href=\"/node/{0}\">{0}</a>", esc(address))
}

/// The graph of every node, and the same as a table.
pub(crate) fn graph(app: &App) -> String {
    let states = state::states(app);
    let by_address: BTreeMap<&str, &state::NodeState> =
        states.iter().map(|s| (s.address.as_str(), s)).collect();
    // Columns: the longest chain of dependencies below a node.
    let mut column: BTreeMap<String, usize> = BTreeMap::new();
    let components: Vec<&evaluator::Component> = app.project.components().collect();
    for _ in 0..components.len() {
        let mut changed = false;
        for c in &components {
            let col =
                c.depends_on.iter().filter_map(|d| column.get(d).map(|x| x + 1)).max().unwrap_or(0);
            if column.insert(c.address(), col) != Some(col) {
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let (w, h, gap_x, gap_y) = (210, 44, 60, 18);
    let mut rows: BTreeMap<usize, usize> = BTreeMap::new();
    let mut at: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for c in &components {
        let col = column.get(&c.address()).copied().unwrap_or(0);
        let row = rows.entry(col).or_insert(0);
        at.insert(c.address(), (20 + col * (w + gap_x), 20 + *row * (h + gap_y)));
        *row += 1;
    }
    let width = at.values().map(|(x, _)| x + w + 20).max().unwrap_or(100);
    let height = at.values().map(|(_, y)| y + h + 20).max().unwrap_or(60);
    let mut svg = format!(
        "<svg id=\"graph\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         style=\"background:#fff;border:1px solid #e3e6eb\">"
    );
    for c in &components {
        let Some(&(x, y)) = at.get(&c.address()) else { continue };
        for d in &c.depends_on {
            if let Some(&(dx, dy)) = at.get(d) {
                let _ = write!(
                    svg,
                    "<line x1=\"{}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#9aa3b2\" stroke-width=\"1.5\"/>",
                    dx + w,
                    dy + h / 2,
                    y + h / 2
                );
            }
        }
    }
    let colors = |s: &str| match s {
        "up-to-date" => "#2f7d4f",
        "failed" | "denied" | "interrupted" => "#b3261e",
        "awaiting-approval" => "#6a3fb5",
        "pending" | "waiting" => "#5b6b86",
        "never-applied" => "#7d8592",
        _ => "#b07b12",
    };
    for c in &components {
        let address = c.address();
        let (Some(&(x, y)), Some(node)) = (at.get(&address), by_address.get(address.as_str()))
        else {
            continue;
        };
        let _ = write!(
            svg,
            "<a href=\"/node/{a}\"><rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"6\" \
             fill=\"#fff\" stroke=\"{color}\" stroke-width=\"2\"/><text x=\"{tx}\" y=\"{ty1}\" \
             font-weight=\"600\">{a}</text><text x=\"{tx}\" y=\"{ty2}\" fill=\"{color}\">{s}</text></a>",
            a = esc(&address),
            color = colors(node.state),
            tx = x + 10,
            ty1 = y + 18,
            ty2 = y + 35,
            s = esc(node.state),
        );
    }
    svg.push_str("</svg>");
    let mut table = String::from(
        "<table id=\"nodes\"><tr><th>node</th><th>kind</th><th>state</th><th></th></tr>",
    );
    for s in &states {
        let _ = write!(
            table,
            "<tr data-address=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&s.address),
            link(&s.address),
            s.kind,
            badge(s.state),
            esc(&s.detail)
        );
    }
    table.push_str("</table>");
    page("Graph", &format!("<h1>The estate</h1>{svg}{table}"))
}

/// A node's page; `None` when there is no such node.
pub(crate) fn node(app: &App, address: &str) -> Option<String> {
    let component = app.project.component(address)?;
    let layout = runner::Layout::new(&app.root);
    let states = state::states(app);
    let state = states.iter().find(|s| s.address == address)?;
    let mut body = format!(
        "<h1>{}</h1><p>{} · {} <span id=\"detail\">{}</span></p>",
        esc(address),
        component.kind_name(),
        badge(state.state),
        esc(&state.detail)
    );
    // What it is given (secrets appear as their placeholders only).
    body.push_str("<h2>Inputs</h2><table id=\"inputs\">");
    for (name, value) in &component.inputs {
        let _ = write!(
            body,
            "<tr><td><code>{}</code></td><td><code>{}</code></td></tr>",
            esc(name),
            esc(&value.to_string())
        );
    }
    body.push_str("</table>");
    if !component.depends_on.is_empty() {
        let deps: Vec<String> = component.depends_on.iter().map(|d| link(d)).collect();
        let _ = write!(body, "<p>Depends on {}</p>", deps.join(", "));
    }
    body.push_str(&plan_section(app, &layout, component, address));
    body.push_str(&outputs_section(&app.root, address));
    body.push_str(&history_section(app, address));
    Some(page(address, &body))
}

fn plan_section(
    app: &App,
    layout: &runner::Layout,
    component: &evaluator::Component,
    address: &str,
) -> String {
    let Some((summary, id)) = runner::approval::plan_id(layout, address) else {
        return "<h2>Plan</h2><p>No kept plan.</p>".to_owned();
    };
    let mut body = format!(
        "<h2>Plan <code id=\"plan-id\">{}</code></h2><p>made {}</p><table id=\"changes\">",
        esc(&id),
        esc(&runner::time::utc(summary.made))
    );
    for r in &summary.changes.resources {
        let _ = write!(
            body,
            "<tr class=\"resource\"><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            esc(r.action.sign()),
            esc(&r.address),
            r.action.name()
        );
    }
    for o in &summary.changes.outputs {
        let value = match (&o.after, o.sensitive, o.unknown) {
            (_, true, _) => "(sensitive)".to_owned(),
            (_, _, true) => "(known after apply)".to_owned(),
            (Some(v), _, _) => v.to_string(),
            (None, _, _) => "null".to_owned(),
        };
        let _ = write!(
            body,
            "<tr><td>{}</td><td>output <code>{}</code></td><td><code>{}</code></td></tr>",
            esc(o.action.sign()),
            esc(&o.name),
            esc(&value)
        );
    }
    body.push_str("</table>");
    if !summary.verdicts.is_empty() {
        body.push_str("<h3>Policies</h3><ul id=\"verdicts\">");
        for v in &summary.verdicts {
            let at = v.address.as_ref().map(|a| format!(" ({})", esc(a))).unwrap_or_default();
            let _ = write!(
                body,
                "<li class=\"{0}\">{0} (policy {1}): {2}{at}</li>",
                v.kind.name(),
                v.policy,
                esc(&v.message)
            );
        }
        body.push_str("</ul>");
    }
    if let Some(approval) = component.terraform().and_then(|t| t.approval.clone())
        && !summary.changes.is_empty()
    {
        let who = state::approvals(layout, address, &approval);
        let min = approval.min_approvers;
        let _ = write!(
            body,
            "<h3>Approvals</h3><p id=\"approvals\">approved: {} of {min}{}</p>",
            who.len(),
            if who.is_empty() { String::new() } else { format!(" ({})", esc(&who.join(", "))) }
        );
        if app.allow_approve {
            let _ = write!(
                body,
                "<form method=\"post\" action=\"/approve/{a}\"><input type=\"hidden\" name=\"plan\" value=\"{id}\">\
                 <label>as <input name=\"user\" value=\"{user}\"></label> \
                 <button id=\"approve\" type=\"submit\">Approve plan {id}</button></form>",
                a = esc(address),
                id = esc(&id),
                user = esc(&app.user)
            );
        } else {
            body.push_str("<p>Read-only: start <code>infra ui --allow-approve</code> to approve here, or run <code>infra approve</code>.</p>");
        }
    }
    body
}

fn outputs_section(root: &std::path::Path, address: &str) -> String {
    let Some(record) = runner::read_record(root, address) else {
        return "<h2>Outputs</h2><p>Never applied.</p>".to_owned();
    };
    let mut body = format!(
        "<h2>Outputs</h2><p>applied {}</p><table id=\"outputs\">",
        esc(&runner::time::utc(record.finished))
    );
    for (name, value) in &record.outputs {
        let _ = write!(
            body,
            "<tr><td><code>{}</code></td><td><code>{}</code></td></tr>",
            esc(name),
            esc(&value.to_string())
        );
    }
    for name in record.sensitive_outputs.keys() {
        let _ = write!(body, "<tr><td><code>{}</code></td><td>(sensitive)</td></tr>", esc(name));
    }
    body.push_str("</table>");
    body
}

fn history_section(app: &App, address: &str) -> String {
    let Ok(history) = crate::history::History::open(&app.root, app.history.as_deref()) else {
        return String::new();
    };
    let runs = history.runs(&[address.to_owned()], 10).unwrap_or_default();
    let mut body = String::from(
        "<h2>History</h2><table id=\"node-history\"><tr><th>run</th><th>operation</th><th>when</th><th>state</th><th></th></tr>",
    );
    let mut log = None;
    for run in &runs {
        let Some(node) = run.nodes.iter().find(|n| n.address == address) else { continue };
        if log.is_none() {
            log = node.log.clone();
        }
        let _ = write!(
            body,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&run.id),
            esc(&run.operation),
            esc(&runner::time::utc(run.started.max(0) as u64)),
            badge(&node.status),
            esc(node.message.as_deref().unwrap_or_default())
        );
    }
    body.push_str("</table>");
    if let Some(log) = log {
        // Logs are scrubbed of secrets when written; the last lines are enough here.
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(80)..].join("\n");
        let _ = write!(
            body,
            "<h2>Log</h2><p><code>{}</code></p><pre id=\"log\">{}</pre>",
            esc(&log),
            esc(&tail)
        );
    }
    body
}

/// The history, filtered.
pub(crate) fn history(app: &App, filter: &HistoryFilter) -> String {
    let runs = crate::history::History::open(&app.root, app.history.as_deref())
        .and_then(|h| {
            let targets: Vec<String> =
                if filter.node.is_empty() { Vec::new() } else { vec![filter.node.clone()] };
            h.runs(&targets, 200)
        })
        .unwrap_or_default();
    let mut body = format!(
        "<h1>History</h1><form method=\"get\">node <input name=\"node\" value=\"{}\"> operation \
         <input name=\"operation\" value=\"{}\"> status <input name=\"status\" value=\"{}\"> \
         <button type=\"submit\">Filter</button></form><table id=\"runs\"><tr><th>run</th><th>operation</th>\
         <th>status</th><th>user</th><th>commit</th><th>started</th><th>nodes</th></tr>",
        esc(&filter.node),
        esc(&filter.operation),
        esc(&filter.status)
    );
    for run in runs.iter().filter(|r| {
        (filter.operation.is_empty() || r.operation == filter.operation)
            && (filter.status.is_empty() || r.status == filter.status)
    }) {
        let nodes: Vec<String> = run
            .nodes
            .iter()
            .filter(|n| n.status != "up-to-date")
            .map(|n| format!("{} {}", link(&n.address), badge(&n.status)))
            .collect();
        let _ = write!(
            body,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            esc(&run.id),
            esc(&run.operation),
            badge(&run.status),
            esc(&run.user),
            esc(run.commit.as_deref().map(|c| &c[..c.len().min(12)]).unwrap_or("")),
            esc(&runner::time::utc(run.started.max(0) as u64)),
            nodes.join("<br>")
        );
    }
    body.push_str("</table>");
    page("History", &body)
}

pub(crate) fn not_found(address: &str) -> String {
    page(
        "Not found",
        &format!("<h1>No node {}</h1><p><a href=\"/\">The graph</a></p>", esc(address)),
    )
}

pub(crate) fn message(title: &str, text: &str) -> String {
    page(
        title,
        &format!(
            "<h1>{}</h1><p id=\"message\">{}</p><p><a href=\"/\">The graph</a></p>",
            esc(title),
            esc(text)
        ),
    )
}
