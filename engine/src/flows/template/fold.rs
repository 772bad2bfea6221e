//! Constant folding, checked: minijinja's code generator evaluates constant subexpressions
//! while it compiles (`'A' * 100000000` is a 100 MB constant), with its own operators. Before
//! a template is compiled, every subexpression the generator would fold is folded here first,
//! the same way, through the checked operators of [`sandbox`](super::sandbox): a constant past
//! the budget fails the compile, and what the generator then folds is no larger than what was
//! checked.

use minijinja::machinery::ast;
use minijinja::{Error, ErrorKind, Value};

use super::budget;
use super::sandbox::{add, concat, mul, plain};

/// Folds constant subexpressions the way minijinja's code generator will, but through the
/// checked operators: returns the value of a constant expression, `None` for any other.
///
/// # Errors
/// When folding would pass the budget.
pub(super) fn fold(expr: &ast::Expr<'_>) -> Result<Option<Value>, Error> {
    Ok(match expr {
        ast::Expr::Const(c) => Some(c.value.clone()),
        ast::Expr::List(list) => {
            for item in &list.items {
                fold(item)?;
            }
            list.as_const()
        }
        ast::Expr::Map(map) => {
            for item in map.keys.iter().chain(&map.values) {
                fold(item)?;
            }
            map.as_const()
        }
        ast::Expr::UnaryOp(op) => match (fold(&op.expr)?, &op.op) {
            (Some(v), ast::UnaryOpKind::Not) => Some(Value::from(!v.is_true())),
            (Some(v), ast::UnaryOpKind::Neg) => {
                plain("-a", v, Value::UNDEFINED, Value::UNDEFINED, Value::UNDEFINED).ok()
            }
            (None, _) => None,
        },
        ast::Expr::BinOp(op) => {
            let (left, right) = (fold(&op.left)?, fold(&op.right)?);
            let (Some(a), Some(b)) = (left, right) else { return Ok(None) };
            let u = || Value::UNDEFINED;
            let result = match op.op {
                ast::BinOpKind::Eq => Ok(Value::from(a == b)),
                ast::BinOpKind::Ne => Ok(Value::from(a != b)),
                ast::BinOpKind::Lt => Ok(Value::from(a < b)),
                ast::BinOpKind::Lte => Ok(Value::from(a <= b)),
                ast::BinOpKind::Gt => Ok(Value::from(a > b)),
                ast::BinOpKind::Gte => Ok(Value::from(a >= b)),
                ast::BinOpKind::ScAnd => Ok(if a.is_true() && b.is_true() { b } else { Value::from(false) }),
                ast::BinOpKind::ScOr => Ok(if a.is_true() { a } else { b }),
                ast::BinOpKind::Add => add(a, b),
                ast::BinOpKind::Mul => mul(a, b),
                ast::BinOpKind::Concat => concat(&a, &b),
                ast::BinOpKind::Sub => plain("a - b", a, b, u(), u()),
                ast::BinOpKind::Div => plain("a / b", a, b, u(), u()),
                ast::BinOpKind::FloorDiv => plain("a // b", a, b, u(), u()),
                ast::BinOpKind::Rem => plain("a % b", a, b, u(), u()),
                ast::BinOpKind::Pow => plain("a ** b", a, b, u(), u()),
                ast::BinOpKind::In => plain("a in b", a, b, u(), u()),
            };
            match result {
                Ok(v) => Some(v),
                Err(_) if budget::exceeded() => return Err(refused_fold()),
                Err(_) => None,
            }
        }
        ast::Expr::Compare(compare) => {
            // As minijinja folds a chain: false at the first comparison that fails.
            let mut left = fold(&compare.expr)?;
            let mut holds = left.as_ref().map(|_| true);
            for op in &compare.ops {
                let right = fold(&op.expr)?;
                holds = match (holds, &left, &right) {
                    (Some(false), _, _) => Some(false),
                    (Some(true), Some(a), Some(b)) => compare_values(&op.op, a, b),
                    _ => None,
                };
                left = right;
            }
            holds.map(Value::from)
        }
        ast::Expr::Var(_) => None,
        ast::Expr::Slice(s) => {
            for e in [Some(&s.expr), s.start.as_ref(), s.stop.as_ref(), s.step.as_ref()].into_iter().flatten() {
                fold(e)?;
            }
            None
        }
        ast::Expr::IfExpr(e) => {
            for e in [Some(&e.test_expr), Some(&e.true_expr), e.false_expr.as_ref()].into_iter().flatten() {
                fold(e)?;
            }
            None
        }
        ast::Expr::Filter(f) => {
            if let Some(e) = &f.expr {
                fold(e)?;
            }
            fold_args(&f.args)?;
            None
        }
        ast::Expr::Test(t) => {
            fold(&t.expr)?;
            fold_args(&t.args)?;
            None
        }
        ast::Expr::GetAttr(g) => {
            fold(&g.expr)?;
            None
        }
        ast::Expr::GetItem(g) => {
            fold(&g.expr)?;
            fold(&g.subscript_expr)?;
            None
        }
        ast::Expr::Call(c) => {
            fold(&c.expr)?;
            fold_args(&c.args)?;
            None
        }
    })
}

fn compare_values(op: &ast::CompareOpKind, a: &Value, b: &Value) -> Option<bool> {
    let contains =
        || plain("a in b", a.clone(), b.clone(), Value::UNDEFINED, Value::UNDEFINED).ok().map(|v| v.is_true());
    match op {
        ast::CompareOpKind::Eq => Some(a == b),
        ast::CompareOpKind::Ne => Some(a != b),
        ast::CompareOpKind::Lt => Some(a < b),
        ast::CompareOpKind::Lte => Some(a <= b),
        ast::CompareOpKind::Gt => Some(a > b),
        ast::CompareOpKind::Gte => Some(a >= b),
        ast::CompareOpKind::In => contains(),
        ast::CompareOpKind::NotIn => contains().map(|c| !c),
    }
}

fn refused_fold() -> Error {
    Error::new(ErrorKind::InvalidOperation, "a constant in the template is too large")
}

fn fold_args(args: &[ast::CallArg<'_>]) -> Result<(), Error> {
    for arg in args {
        let (ast::CallArg::Pos(e) | ast::CallArg::Kwarg(_, e) | ast::CallArg::KwargSplat(e)) = arg else {
            // `f(*x)` pushes every item of `x` on the stack, a string's every character: 24 bytes
            // each, unbudgeted.
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "argument unpacking (`*args`) is not available in flow templates",
            ));
        };
        fold(e)?;
    }
    Ok(())
}

fn fold_stmts(stmts: &[ast::Stmt<'_>]) -> Result<(), Error> {
    stmts.iter().try_for_each(fold_stmt)
}

/// [`fold`] on every expression of a template.
pub(super) fn fold_stmt(stmt: &ast::Stmt<'_>) -> Result<(), Error> {
    match stmt {
        ast::Stmt::Template(t) => fold_stmts(&t.children),
        ast::Stmt::EmitExpr(e) => fold(&e.expr).map(drop),
        ast::Stmt::EmitRaw(_) => Ok(()),
        ast::Stmt::ForLoop(f) => {
            fold(&f.target)?;
            fold(&f.iter)?;
            if let Some(e) = &f.filter_expr {
                fold(e)?;
            }
            fold_stmts(&f.body)?;
            fold_stmts(&f.else_body)
        }
        ast::Stmt::IfCond(i) => {
            fold(&i.expr)?;
            fold_stmts(&i.true_body)?;
            fold_stmts(&i.false_body)
        }
        ast::Stmt::WithBlock(w) => {
            for (target, value) in &w.assignments {
                fold(target)?;
                fold(value)?;
            }
            fold_stmts(&w.body)
        }
        ast::Stmt::Set(s) => {
            fold(&s.target)?;
            fold(&s.expr).map(drop)
        }
        ast::Stmt::SetBlock(s) => {
            fold(&s.target)?;
            if let Some(e) = &s.filter {
                fold(e)?;
            }
            fold_stmts(&s.body)
        }
        ast::Stmt::AutoEscape(a) => {
            fold(&a.enabled)?;
            fold_stmts(&a.body)
        }
        ast::Stmt::FilterBlock(f) => {
            fold(&f.filter)?;
            fold_stmts(&f.body)
        }
        ast::Stmt::Do(d) => {
            fold(&d.call.expr)?;
            fold_args(&d.call.args)
        }
    }
}
