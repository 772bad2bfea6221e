//! Templates: rendering, and the limits on what they build.

use super::*;
use serde_json::json;

fn limits() -> TemplateLimits {
    TemplateLimits { max_template_bytes: 64 * 1024, max_vars_bytes: 256 * 1024, max_step_input_bytes: 256 * 1024 }
}

fn render_small(template: &Value) -> Result<Value, TemplateError> {
    render_in(
        template,
        &Context::new(&json!({}), &json!({"items": ["a", "b"], "n": 3})),
        &limits(),
        limits().step_input_cap(),
    )
}

#[track_caller]
fn refused(template: &str, words: &str) {
    let started = std::time::Instant::now();
    let err = render_small(&json!({"x": template})).expect_err(template);
    assert_eq!(err.pointer, "/x", "{template}: {err:?}");
    assert!(err.message.contains(words), "{template}: {}", err.message);
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{template} took {:?}", started.elapsed());
}

const BUDGET: &str = "the template would build more than 1048576 bytes";

#[test]
fn the_issue_bombs_fail_before_they_allocate() {
    let big = "('A' * 100000000)";
    refused("{{ 'A' * 100000000 }}", BUDGET);
    refused(&format!("{{{{ {} }}}}", [big; 10].join(" ~ ")), BUDGET);
    refused(&format!("text {{{{ {} }}}}", [big; 10].join(" ~ ")), BUDGET);
    // The code generator folds constants while compiling: checking a flow must not build them.
    let err = check(&json!({"x": format!("{{{{ {} }}}}", [big; 10].join(" ~ "))})).unwrap_err();
    assert_eq!(err.pointer, "/x");
    assert!(check_expression(&[big; 2].join(" ~ ")).is_err());
}

#[test]
fn values_that_grow_step_by_step_run_out_of_budget() {
    let doubling = format!("{{% set a = 'A' * 1000 %}}{}{{{{ a | length }}}}", "{% set a = a ~ a %}".repeat(30));
    refused(&doubling, BUDGET);
    let plus = format!("{{% set a = 'A' * 1000 %}}{}{{{{ a | length }}}}", "{% set a = a + a %}".repeat(30));
    refused(&plus, BUDGET);
    refused(
        "{% set ns = namespace(l=[]) %}{% for i in range(5000) %}{% set ns.l = ns.l + ['A' * 1000] %}{% endfor %}",
        BUDGET,
    );
    refused("{{ ([1] * 1000000000) | list }}", BUDGET);
    refused("{{ ([1] * 1000000000)[1:] }}", BUDGET);
    refused("{{ ('A' * 1000) | replace('', 'B' * 2000) }}", BUDGET);
    refused("{{ 'x' | indent(1000000000) }}", BUDGET);
    refused("{{ [1] | tojson(indent=1000000000) }}", BUDGET);
    refused("{{ ['A' * 60000] * 100 }}", "flows.max_template_bytes");
    refused("{{ (['A' * 60000] * 100) | join }}", BUDGET);
    refused("{% for i in range(20000) %}{{ 'A' * 100 }}{% endfor %}", BUDGET);
    refused(&format!("{{% for i in range(20000) %}}{}{{% endfor %}}", "A".repeat(1000)), BUDGET);
    refused("{% set x %}{% for i in range(20000) %}{{ 'A' * 100 }}{% endfor %}{% endset %}", BUDGET);
    refused("{{ 'A' * 70000 }}", "renders to more than 65536 bytes (flows.max_template_bytes)");
    refused("{{ range(*('A' * 1000000)) }}", "argument unpacking");
}

#[test]
fn a_render_past_its_cap_names_the_setting() {
    let template = json!({"a": "{{ 'A' * 60000 }}", "b": "{{ 'A' * 60000 }}", "c": "{{ 'A' * 60000 }}", "d": "{{ 'A' * 60000 }}", "e": "{{ 'A' * 60000 }}"});
    let err = render_small(&template).unwrap_err();
    assert!(err.message.contains("flows.max_step_input_bytes"), "{}", err.message);
}

#[test]
fn ordinary_templates_render_as_before() {
    let ctx = json!({"input": {"items": ["a", "b"], "n": 3, "m": {"k": "v"}}});
    let out = render(
        &json!({
            "rep": "{{ 'ab' * 3 }}", "list": "{{ [1, 2] + [3] }}", "cat": "{{ 'a' ~ input.n }}",
            "sum": "{{ input.n + 1.5 }}", "join": "{{ input.items | join(', ') }}", "slice": "{{ 'hello'[1:3] }}",
            "map": "{{ {'a': input.n, 'b': [input.n]} }}", "json": "{{ input.m | tojson(indent=2) }}",
            "text": "{% for i in input.items %}{{ loop.index }}={{ i | upper }};{% else %}none{% endfor %}",
            "block": "{% set x %}[{{ input.n }}]{% endset %}{{ x ~ x }}", "filter": "{% filter upper %}abc{% endfilter %}",
            "range": "{{ range(3) | list }}", "dict": "{{ dict(a=1) }}", "repeat": "{{ [0] * 3 }}",
            "neg": "{{ -(input.n) }}", "cond": "{{ 'yes' if input.n > 2 else 'no' }}", "const": "{{ 2 ** 10 }}",
            "minus": "{{ input.n - 1 }}", "strs": "{{ 'x' + 'y' }}", "replace": "{{ 'aXa' | replace('X', '-') }}",
        }),
        &ctx,
    )
    .unwrap();
    assert_eq!(
        out,
        json!({
            "rep": "ababab", "list": [1, 2, 3], "cat": "a3", "sum": 4.5, "join": "a, b", "slice": "el",
            "map": {"a": 3, "b": [3]}, "json": "{\n  \"k\": \"v\"\n}", "text": "1=A;2=B;", "block": "[3][3]",
            "filter": "ABC", "range": [0, 1, 2], "dict": {"a": 1}, "repeat": [0, 0, 0], "neg": -3, "cond": "yes",
            "const": 1024, "minus": 2, "strs": "xy", "replace": "a-a",
        })
    );
    assert!(evaluate_condition("input.n in [1, 2, 3] and 'a' ~ 'b' == 'ab'", &ctx).unwrap());
    assert!(check(&json!({"x": "{{ debug() }}"})).is_ok(), "debug() fails when run, not when checked");
    assert!(render(&json!("{{ debug() }}"), &ctx).unwrap_err().message.contains("not available"));
}

#[test]
fn a_lone_expression_yields_json_and_mixed_text_yields_a_string() {
    let ctx = json!({"input": {"n": 3, "order": {"id": 7}}, "vars": {}, "nodes": {"a": {"output": {"ok": true}}}});
    let out = render(
        &json!({"count": "{{ input.n + 1 }}", "order": "{{ input.order }}", "text": "n={{ input.n }}", "flag": "{{ nodes.a.output.ok }}", "plain": 5}),
        &ctx,
    )
    .unwrap();
    assert_eq!(out, json!({"count": 4, "order": {"id": 7}, "text": "n=3", "flag": true, "plain": 5}));
    assert!(evaluate_condition("input.n > 2", &ctx).unwrap());
}

#[test]
fn syntax_errors_point_at_the_field_and_runaway_loops_run_out_of_fuel() {
    let err = check(&json!({"a": {"b": ["ok", "{{ 1 + }}"]}})).unwrap_err();
    assert_eq!(err.pointer, "/a/b/1");
    let err = render(&json!({"x": "{% for i in range(100000) %}{{ i }}{% endfor %}"}), &json!({})).unwrap_err();
    assert_eq!(err.pointer, "/x");
}
