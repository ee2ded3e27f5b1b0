//! `agent_script.define{...}`: branching call scripts read out of Lua into
//! plain [`AgentScript`] data and validated, so the agent desktop never
//! touches Lua and a broken script never reaches an agent.

use std::collections::{BTreeMap, BTreeSet};

use mlua::{Table, Value};

use crate::convert::describe;
use crate::error::{LoadError, LoadErrorKind, Loc};
use crate::types::{AgentScript, Choice, Node, Outcome};

/// One call of `agent_script.define`, and what it produced.
#[derive(Debug)]
pub(crate) struct Definition {
    pub at: Loc,
    pub parsed: Result<Parsed, Problem>,
}

/// A valid script and the warnings it raised (unreachable nodes).
#[derive(Debug)]
pub(crate) struct Parsed {
    pub script: AgentScript,
    pub warnings: Vec<String>,
}

/// What is wrong with a definition.
#[derive(Debug)]
pub(crate) struct Problem {
    script: String,
    node: Option<String>,
    problem: String,
}

fn problem(script: &str, node: Option<&str>, text: impl Into<String>) -> Problem {
    Problem {
        script: script.to_owned(),
        node: node.map(str::to_owned),
        problem: text.into(),
    }
}

fn lua_problem(script: &str, err: mlua::Error) -> Problem {
    problem(script, None, format!("cannot read the definition: {err}"))
}

/// Turns the definitions of one load into the version's agent scripts: the
/// first bad definition (in load order) fails the load, naming the script,
/// the node, and the line of its `agent_script.define`.
pub(crate) fn collect(
    definitions: Vec<Definition>,
    warnings: &mut Vec<String>,
) -> Result<BTreeMap<String, AgentScript>, LoadError> {
    let mut scripts: BTreeMap<String, AgentScript> = BTreeMap::new();
    for def in definitions {
        let fail = |p: Problem| {
            let kind = LoadErrorKind::AgentScript {
                script: p.script,
                node: p.node,
                problem: p.problem,
            };
            LoadError::new(def.at.file.clone(), def.at.line, kind)
        };
        let mut parsed = def.parsed.map_err(fail)?;
        if let Some(first) = scripts.get(&parsed.script.name) {
            let text = format!("defined twice (first at {})", first.defined_at);
            return Err(fail(problem(&parsed.script.name, None, text)));
        }
        parsed.script.defined_at = match def.at.line {
            Some(line) => format!("{}:{line}", def.at.file),
            None => def.at.file.clone(),
        };
        for w in parsed.warnings {
            warnings.push(format!("{}: {w}", parsed.script.defined_at));
        }
        scripts.insert(parsed.script.name.clone(), parsed.script);
    }
    Ok(scripts)
}

fn string_field(
    t: &Table,
    script: &str,
    node: Option<&str>,
    key: &str,
) -> Result<Option<String>, Problem> {
    match t
        .raw_get::<Value>(key)
        .map_err(|e| lua_problem(script, e))?
    {
        Value::Nil => Ok(None),
        Value::String(s) => Ok(Some(s.to_string_lossy())),
        other => Err(problem(
            script,
            node,
            format!("`{key}` must be a string, got {}", describe(&other)),
        )),
    }
}

fn required(
    value: Option<String>,
    script: &str,
    node: Option<&str>,
    key: &str,
) -> Result<String, Problem> {
    match value {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(problem(script, node, format!("`{key}` is missing"))),
    }
}

/// Reads and checks one definition.
pub(crate) fn parse(def: &Value) -> Result<Parsed, Problem> {
    let Value::Table(t) = def else {
        return Err(problem(
            "?",
            None,
            format!("agent_script.define expects a table, got {}", describe(def)),
        ));
    };
    let name = required(string_field(t, "?", None, "name")?, "?", None, "name")?;
    let n = name.as_str();
    let title = string_field(t, n, None, "title")?.unwrap_or_else(|| name.clone());
    let language = required(string_field(t, n, None, "language")?, n, None, "language")?;
    if language != "zh" && language != "en" {
        return Err(problem(
            n,
            None,
            format!("`language` must be \"zh\" or \"en\", got \"{language}\""),
        ));
    }
    let start = required(string_field(t, n, None, "start")?, n, None, "start")?;
    let nodes = match t.raw_get::<Value>("nodes").map_err(|e| lua_problem(n, e))? {
        Value::Table(nodes) => read_nodes(n, &nodes)?,
        other => {
            return Err(problem(
                n,
                None,
                format!("`nodes` must be a table, got {}", describe(&other)),
            ));
        }
    };
    let script = AgentScript {
        name: name.clone(),
        title,
        language,
        start,
        nodes,
        defined_at: String::new(),
    };
    let warnings = check(&script)?;
    Ok(Parsed { script, warnings })
}

fn read_nodes(script: &str, nodes: &Table) -> Result<BTreeMap<String, Node>, Problem> {
    let mut out = BTreeMap::new();
    for pair in nodes.pairs::<Value, Value>() {
        let (key, value) = pair.map_err(|e| lua_problem(script, e))?;
        let Value::String(key) = key else {
            return Err(problem(
                script,
                None,
                format!("node names must be strings, got {}", describe(&key)),
            ));
        };
        let key = key.to_string_lossy();
        let Value::Table(node) = value else {
            let text = format!("a node must be a table, got {}", describe(&value));
            return Err(problem(script, Some(&key), text));
        };
        let parsed = read_node(script, &key, &node)?;
        out.insert(key, parsed);
    }
    Ok(out)
}

fn read_node(script: &str, key: &str, node: &Table) -> Result<Node, Problem> {
    let at = Some(key);
    let say = required(string_field(node, script, at, "say")?, script, at, "say")?;
    let outcome = match string_field(node, script, at, "outcome")? {
        None => None,
        Some(text) => match text.parse::<Outcome>() {
            Ok(o) if o.is_agent_disposition() => Some(o),
            _ => {
                let text = format!(
                    "outcome \"{text}\" is not an agent disposition (unreachable, success, likely, interested, declined)"
                );
                return Err(problem(script, at, text));
            }
        },
    };
    let mut options = Vec::new();
    match node
        .raw_get::<Value>("options")
        .map_err(|e| lua_problem(script, e))?
    {
        Value::Nil => {}
        Value::Table(list) => {
            for i in 1..=list.raw_len() {
                let Value::Table(option) = list
                    .raw_get::<Value>(i)
                    .map_err(|e| lua_problem(script, e))?
                else {
                    return Err(problem(
                        script,
                        at,
                        format!("option {i} must be a table {{ label, next }}"),
                    ));
                };
                let label = required(
                    string_field(&option, script, at, "label")?,
                    script,
                    at,
                    "label",
                )?;
                let next = required(
                    string_field(&option, script, at, "next")?,
                    script,
                    at,
                    "next",
                )?;
                options.push(Choice { label, next });
            }
        }
        other => {
            return Err(problem(
                script,
                at,
                format!("`options` must be a list, got {}", describe(&other)),
            ));
        }
    }
    Ok(Node {
        say,
        options,
        outcome,
    })
}

/// The graph checks; errors for what would strand an agent, warnings for
/// nodes nothing leads to.
fn check(script: &AgentScript) -> Result<Vec<String>, Problem> {
    let name = script.name.as_str();
    if !script.nodes.contains_key(&script.start) {
        return Err(problem(
            name,
            None,
            format!("the start node `{}` is not defined", script.start),
        ));
    }
    for (key, node) in &script.nodes {
        match (node.options.is_empty(), node.outcome) {
            (true, None) => {
                return Err(problem(
                    name,
                    Some(key),
                    "a terminal node (no options) needs an `outcome`",
                ));
            }
            (false, Some(_)) => {
                return Err(problem(
                    name,
                    Some(key),
                    "a node has either `options` or an `outcome`, not both",
                ));
            }
            _ => {}
        }
        for choice in &node.options {
            if !script.nodes.contains_key(&choice.next) {
                let text = format!(
                    "option \"{}\" leads to `{}`, which is not a node of this script",
                    choice.label, choice.next
                );
                return Err(problem(name, Some(key), text));
            }
        }
    }
    let mut seen = BTreeSet::from([script.start.as_str()]);
    let mut todo = vec![script.start.as_str()];
    while let Some(key) = todo.pop() {
        for choice in &script.nodes[key].options {
            if seen.insert(choice.next.as_str()) {
                todo.push(choice.next.as_str());
            }
        }
    }
    Ok(script
        .nodes
        .keys()
        .filter(|k| !seen.contains(k.as_str()))
        .map(|k| {
            format!(
                "agent script `{name}`: node `{k}` cannot be reached from `{}`",
                script.start
            )
        })
        .collect())
}
