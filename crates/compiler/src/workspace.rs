//! Workspace variables: the REPL's variables, which live from one doIt to
//! the next. A doIt compiled for a [`Workspace`] reads and assigns them
//! through a dictionary global (`dictionary at: #x`, `dictionary at: #x
//! put: value`) instead of binding their values when it is linked, so a
//! line can assign a variable and use it (`x := 3. x + 1`), and a block
//! kept from an earlier line sees the current value. A name the doIt
//! assigns without declaring it becomes a workspace variable, unless it
//! is fixed (a class).

use crate::ast::{Block, Expr, Method, Stmt};
use crate::codegen::{CompiledMethod, generate_in_workspace};
use crate::diagnostic::Diagnostic;

/// Where the workspace variables are and which exist.
pub struct Workspace<'a> {
    /// The global holding the variables (`globals` in lst's image).
    pub dictionary: &'a str,
    /// The variables defined so far.
    pub variables: &'a [String],
    /// Globals that cannot become workspace variables (classes).
    pub fixed: &'a dyn Fn(&str) -> bool,
}

/// A doIt compiled for a workspace.
pub struct WorkspaceDoit {
    pub method: CompiledMethod,
    /// The variables it assigns that were not defined yet; the host
    /// defines them (as nil) before running it.
    pub new_variables: Vec<String>,
}

/// Compiles statements (with optional leading temporaries) as a doIt in
/// `workspace`; it answers the value of its last statement.
pub fn compile_workspace_doit(
    source: &str,
    workspace: &Workspace,
) -> Result<WorkspaceDoit, Vec<Diagnostic>> {
    let method = crate::codegen::parse_doit(source)?;
    let new_variables: Vec<String> = undeclared_assignments(&method)
        .into_iter()
        .filter(|n| !workspace.variables.contains(n) && !(workspace.fixed)(n))
        .collect();
    let names: Vec<String> = workspace
        .variables
        .iter()
        .chain(&new_variables)
        .cloned()
        .collect();
    let method = generate_in_workspace(&method, source, workspace.dictionary, &names)?;
    Ok(WorkspaceDoit {
        method,
        new_variables,
    })
}

/// The names assigned somewhere in `method` that no enclosing scope
/// declares, in the order they are first assigned.
pub fn undeclared_assignments(method: &Method) -> Vec<String> {
    let mut walk = Walk {
        scopes: vec![names(method.params.iter().chain(&method.temps))],
        found: vec![],
    };
    walk.statements(&method.body);
    walk.found
}

fn names<'a>(names: impl Iterator<Item = &'a crate::ast::Name>) -> Vec<String> {
    names.map(|n| n.text.clone()).collect()
}

/// A walk over the syntax tree with the names declared around each point.
struct Walk {
    scopes: Vec<Vec<String>>,
    found: Vec<String>,
}

impl Walk {
    fn statements(&mut self, body: &[Stmt]) {
        for stmt in body {
            match stmt {
                Stmt::Expr(e) | Stmt::Return { value: e, .. } => self.expr(e),
            }
        }
    }

    fn expr(&mut self, e: &Expr) {
        match e {
            Expr::Var(_) | Expr::Literal { .. } => {}
            Expr::Assign { target, value } => {
                let name = &target.text;
                let declared = self.scopes.iter().any(|s| s.contains(name));
                let pseudo = ["self", "super", "nil", "true", "false"].contains(&name.as_str());
                if !declared && !pseudo && !self.found.contains(name) {
                    self.found.push(name.clone());
                }
                self.expr(value);
            }
            Expr::Block(b) => self.block(b),
            Expr::Send(s) => {
                self.expr(&s.receiver);
                s.message.args.iter().for_each(|a| self.expr(a));
            }
            Expr::Cascade {
                receiver, messages, ..
            } => {
                self.expr(receiver);
                for m in messages.iter().flatten() {
                    m.args.iter().for_each(|a| self.expr(a));
                }
            }
            Expr::Primitive { args, .. } => args.iter().for_each(|a| self.expr(a)),
        }
    }

    fn block(&mut self, b: &Block) {
        self.scopes.push(names(b.params.iter().chain(&b.temps)));
        self.statements(&b.body);
        self.scopes.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::LiteralValue;

    fn compile(source: &str, variables: &[&str]) -> WorkspaceDoit {
        let variables: Vec<String> = variables.iter().map(|v| v.to_string()).collect();
        let fixed = |n: &str| n == "Object";
        let ws = Workspace {
            dictionary: "globals",
            variables: &variables,
            fixed: &fixed,
        };
        compile_workspace_doit(source, &ws).unwrap()
    }

    #[test]
    fn undeclared_assigned_names_become_new_variables() {
        let d = compile(
            "| t | t := 1. x := t. [:a | | u | u := a. y := u] value: 2. x := 3",
            &[],
        );
        assert_eq!(d.new_variables, ["x", "y"]);
        let d = compile("x := 1. y := x", &["x"]);
        assert_eq!(d.new_variables, ["y"]);
    }

    #[test]
    fn workspace_variables_go_through_the_dictionary() {
        let d = compile("x := 3. x + 1", &[]);
        let literals = &d.method.literals;
        assert!(
            literals
                .iter()
                .any(|l| matches!(l, LiteralValue::Global { name, .. } if name == "globals"))
        );
        assert!(literals.contains(&LiteralValue::Selector("at:put:".into())));
        assert!(literals.contains(&LiteralValue::Selector("at:".into())));
        assert!(
            !literals
                .iter()
                .any(|l| matches!(l, LiteralValue::Global { name, .. } if name == "x"))
        );
    }

    #[test]
    fn fixed_globals_are_not_assigned() {
        let variables: Vec<String> = vec![];
        let fixed = |n: &str| n == "Object";
        let ws = Workspace {
            dictionary: "globals",
            variables: &variables,
            fixed: &fixed,
        };
        let errors = compile_workspace_doit("Object := 3", &ws)
            .err()
            .expect("an error");
        assert!(errors[0].message.contains("Object"), "{:?}", errors[0]);
    }
}
