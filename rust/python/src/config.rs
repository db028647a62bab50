//! One field table per class: [`config_class!`] turns a class's configuration, declared once,
//! into everything Python sees of it.
//!
//! # Declaring a class
//!
//! ```ignore
//! crate::config::config_class! {
//!     /// Triplet margin loss ... (the class docstring, shown by `help()`).
//!     class PyTripletLoss(TripletLoss) as "TripletLoss" {
//!         /// Margin (>= 0).
//!         margin: f64 = 1.0, check = crate::config::non_negative;
//!         /// `"euclidean"` or `"cosine"`.
//!         distance: Distance = "euclidean";
//!         /// `"mean"`, `"sum"` or `"none"`.
//!         reduction: Reduction = "mean";
//!     }
//!     // optional: validate = path::to::fn;        fn(&TripletLoss) -> PyResult<()>
//!     // optional: state { scratch: Mutex<X> = Mutex::new(X::default()) }
//!
//!     #[pymethods]
//!     impl PyTripletLoss {
//!         // forward, __call__, ...: written as usual; the macro adds its methods here.
//!     }
//! }
//! ```
//!
//! The table's head names the Rust class, the core configuration struct it holds (its fields
//! are the table's fields; fields the table leaves out keep the struct's `Default`) and the
//! Python name. Each row is `name: Type = default` with optional `, convert = f` and
//! `, check = f`, ending in `;`:
//!
//! - `Type` is the core field's type; it implements [`FieldValue`] (how a Python value is
//!   converted, with errors naming the field, and how it goes back to Python). `f64`, `bool`,
//!   `usize`, `u64`, `Option<T>`, `(f64, f64)` and the core's name enums (through
//!   [`field_enums!`]) do.
//! - `default` is one Python literal token: `0.07`, `5`, `"mean"`, `True`, `None`,
//!   `(0.9, 0.999)`. It is both the signature's default (`help()`, `inspect.signature`,
//!   stubtest) and the value: a missing argument is converted from it like any user value.
//! - `convert = f`: `fn(&'static str, &Bound<PyAny>) -> PyResult<Type>` replaces
//!   [`FieldValue::extract`] (for a field whose range is part of its conversion, e.g.
//!   [`positive_count`](crate::search::positive_count)).
//! - `check = f`: `fn(&'static str, &Type) -> PyResult<()>`, a range check of the value alone.
//! - `validate = f` after the table: `fn(&Config) -> PyResult<()>`, a check of the whole
//!   configuration (cross-field rules), run by the constructor and by every setter on the
//!   would-be configuration (an invalid write changes nothing).
//! - `state { name: Type = init, ... }`: extra per-object Rust fields that are not
//!   configuration (scratch memory); never pickled, compared or printed.
//!
//! From it the macro generates, in the class's one `#[pymethods]` block:
//!
//! - `__new__` with every field as a keyword (and positional) argument in table order, its
//!   signature `Name(field=default, ...)` put at the head of the class docstring, so
//!   `__text_signature__` and `help()` show the real defaults;
//! - a getter and a validated setter per field (the row's doc comment is the property's
//!   `__doc__`); setters go through [`Shared`](crate::args::Shared), so they never wait for a
//!   running kernel and run exactly the constructor's conversion and checks (same messages);
//! - `__repr__` as Python literals (`TripletLoss(margin=1.0, distance='euclidean', ...)`, each
//!   value printed by Python's `repr`), so `eval(repr(x)) == x`;
//! - `__eq__` on the configuration (another type: `NotImplemented`; so the objects are not
//!   hashable, as mutable configuration objects should not be);
//! - `__reduce__` as `(type, (field values in table order))`, so `pickle`, `copy.deepcopy`
//!   and `torch.save` of the object (or of a module holding it) work;
//! - the class attribute `config_fields`: the field names in table order, from which the torch
//!   wrappers build their forwarded properties.
//!
//! Adding a field is one row here (plus its line in `_core.pyi`, which `tests/test_stubs.py`
//! checks against the runtime with `mypy.stubtest`).

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyString, PyTuple};

use crate::args::{integer, real, short_repr, type_name};
use crate::arrays::{to_py_err, value_error};

/// A configuration value: converted from Python with errors naming the field, and back.
pub trait FieldValue: Sized + Clone + PartialEq {
    /// Converts `value`, the argument or attribute `arg`.
    fn extract(arg: &'static str, value: &Bound<'_, PyAny>) -> PyResult<Self>;

    /// The value as a Python object (what the getter returns and pickling stores).
    fn to_python<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>>;
}

impl FieldValue for f64 {
    fn extract(arg: &'static str, value: &Bound<'_, PyAny>) -> PyResult<Self> {
        real(arg, value)
    }

    fn to_python<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.into_pyobject(py)?.into_any())
    }
}

impl FieldValue for bool {
    /// A Python or NumPy bool; an int is a `TypeError` (no silent truthiness).
    fn extract(arg: &'static str, value: &Bound<'_, PyAny>) -> PyResult<Self> {
        value.extract::<bool>().map_err(|_| {
            PyTypeError::new_err(format!("{arg}: expected a bool, got {}", type_name(value)))
        })
    }

    fn to_python<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(PyBool::new(py, *self).to_owned().into_any())
    }
}

/// Integer fields: a Python or NumPy integer in `[0, 2**64)` (a `ValueError` naming the field
/// otherwise); tighter ranges are a `check` or a `convert`.
macro_rules! unsigned_fields {
    ($($ty:ty),*) => {
        $(
            impl FieldValue for $ty {
                fn extract(arg: &'static str, value: &Bound<'_, PyAny>) -> PyResult<Self> {
                    let number = integer(arg, value)?;
                    <$ty>::try_from(number).map_err(|_| {
                        value_error(
                            arg,
                            format!("must be in [0, 2**64), got {}", short_repr(value)),
                        )
                    })
                }

                fn to_python<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                    Ok(self.into_pyobject(py)?.into_any())
                }
            }
        )*
    };
}
unsigned_fields!(usize, u64);

impl<T: FieldValue> FieldValue for Option<T> {
    /// `None` stays `None`; anything else converts as `T`.
    fn extract(arg: &'static str, value: &Bound<'_, PyAny>) -> PyResult<Self> {
        if value.is_none() {
            Ok(None)
        } else {
            T::extract(arg, value).map(Some)
        }
    }

    fn to_python<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self {
            Some(value) => value.to_python(py),
            None => Ok(py.None().into_bound(py)),
        }
    }
}

impl FieldValue for (f64, f64) {
    /// Any sequence of exactly two real numbers (`betas`).
    fn extract(arg: &'static str, value: &Bound<'_, PyAny>) -> PyResult<Self> {
        let not_pair = || {
            PyTypeError::new_err(format!(
                "{arg}: expected a pair of floats, got {}",
                type_name(value)
            ))
        };
        if value.is_instance_of::<PyString>() {
            return Err(not_pair());
        }
        let items: Vec<Bound<'_, PyAny>> = value
            .try_iter()
            .map_err(|_| not_pair())?
            .collect::<PyResult<_>>()?;
        match items.as_slice() {
            [first, second] => Ok((real(arg, first)?, real(arg, second)?)),
            _ => Err(value_error(
                arg,
                format!("expected two values, got {}", items.len()),
            )),
        }
    }

    fn to_python<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(PyTuple::new(py, [self.0, self.1])?.into_any())
    }
}

/// A name argument as a string, or a `TypeError` naming `arg`.
pub fn name_arg(arg: &str, value: &Bound<'_, PyAny>) -> PyResult<String> {
    match value.cast::<PyString>() {
        Ok(text) => text.extract(),
        Err(_) => Err(PyTypeError::new_err(format!(
            "{arg}: expected a string, got {}",
            type_name(value)
        ))),
    }
}

/// [`FieldValue`] for the core's name enums (each has `parse`, whose error names the
/// argument, and `name`). Method arguments with a name default (`similarity="cosine"`) stay
/// `&str` in the signature (so `__text_signature__` shows the default) and go through the
/// same core `parse`.
macro_rules! field_enums {
    ($($ty:ty),* $(,)?) => {
        $(
            impl FieldValue for $ty {
                fn extract(arg: &'static str, value: &Bound<'_, PyAny>) -> PyResult<Self> {
                    <$ty>::parse(&name_arg(arg, value)?).map_err(to_py_err)
                }

                fn to_python<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                    Ok(PyString::new(py, self.name()).into_any())
                }
            }
        )*
    };
}

use ruvector_training_core::{
    Distance, MarginStrategy, Normalize, Reduction, Similarity, Strategy, TripletMining,
};
field_enums!(
    Similarity,
    Reduction,
    Distance,
    Strategy,
    MarginStrategy,
    TripletMining,
    Normalize,
);

/// Defines `fn name(value) -> PyResult<Type>` for each `name: Type => "arg"`, converting
/// through [`FieldValue::extract`] with `arg` named: for `#[pyo3(from_py_with = name)]` on a
/// hand-written constructor's argument, so it converts exactly as the attribute's setter.
macro_rules! field_args {
    ($($name:ident: $ty:ty => $arg:literal),* $(,)?) => {
        $(
            fn $name(value: &pyo3::Bound<'_, pyo3::PyAny>) -> pyo3::PyResult<$ty> {
                <$ty as $crate::config::FieldValue>::extract($arg, value)
            }
        )*
    };
}
pub(crate) use field_args;

/// `check =` of a field that must be finite and > 0.
pub fn positive(arg: &'static str, value: &f64) -> PyResult<()> {
    ruvector_training_core::validate::ensure_positive(arg, *value).map_err(to_py_err)
}

/// `check =` of a field that must be finite and >= 0.
pub fn non_negative(arg: &'static str, value: &f64) -> PyResult<()> {
    ruvector_training_core::validate::ensure_non_negative(arg, *value).map_err(to_py_err)
}

/// A constructor argument: given (any object, `None` included) or left out.
pub enum Arg<'py> {
    /// The caller passed this object.
    Given(Bound<'py, PyAny>),
    /// The caller left it out: the table's default applies.
    Missing,
}

impl<'a, 'py> FromPyObject<'a, 'py> for Arg<'py> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        Ok(Self::Given(obj.to_owned()))
    }
}

impl<'py> Arg<'py> {
    /// The object given, or `default` (the table's literal) when left out.
    pub fn or_default(self, default: Bound<'py, PyAny>) -> Bound<'py, PyAny> {
        match self {
            Self::Given(value) => value,
            Self::Missing => default,
        }
    }
}

/// `repr(value)` of a field value, as Python prints it.
pub fn field_repr<T: FieldValue>(py: Python<'_>, value: &T) -> PyResult<String> {
    Ok(value.to_python(py)?.repr()?.to_string())
}

/// A table default (one Python literal token) as a Python object.
#[doc(hidden)]
#[macro_export]
macro_rules! py_literal {
    ($py:expr, True) => {
        pyo3::types::PyBool::new($py, true).to_owned().into_any()
    };
    ($py:expr, False) => {
        pyo3::types::PyBool::new($py, false).to_owned().into_any()
    };
    ($py:expr, None) => {
        $py.None().into_bound($py)
    };
    ($py:expr, ($($item:literal),* $(,)?)) => {
        pyo3::types::PyTuple::new($py, [$(pyo3::IntoPyObjectExt::into_bound_py_any($item, $py)?),*])?.into_any()
    };
    ($py:expr, $value:literal) => {
        pyo3::IntoPyObjectExt::into_bound_py_any($value, $py)?
    };
}

/// The converter of a table row: its `convert =` or the type's [`FieldValue::extract`].
#[doc(hidden)]
#[macro_export]
macro_rules! field_converter {
    ($ty:ty) => {
        <$ty as $crate::config::FieldValue>::extract
    };
    ($ty:ty, $convert:path) => {
        $convert
    };
}

/// Runs a table row's `check =` (if any) on a converted value.
#[doc(hidden)]
#[macro_export]
macro_rules! field_check {
    ($name:expr, $value:expr) => {};
    ($name:expr, $value:expr, $check:path) => {
        $check($name, &$value)?
    };
}

/// The whole-configuration check: the table's `validate =` or nothing.
#[doc(hidden)]
#[macro_export]
macro_rules! config_validator {
    ($config:ty) => {
        |_: &$config| -> pyo3::PyResult<()> { Ok(()) }
    };
    ($config:ty, $validate:path) => {
        |config: &$config| -> pyo3::PyResult<()> { $validate(config) }
    };
}

/// See the module documentation.
macro_rules! config_class {
    (
        $(#[doc = $doc:literal])*
        class $class:ident($config:ty) as $pyname:literal {
            $(
                $(#[doc = $fdoc:literal])*
                $field:ident: $ty:ty = $default:tt
                    $(, convert = $convert:path)?
                    $(, check = $check:path)?
                ;
            )*
        }
        $(validate = $validate:path;)?
        $(state { $($sfield:ident: $sty:ty = $sinit:expr),* $(,)? })?

        #[pymethods]
        impl $impl_class:ident { $($methods:tt)* }
    ) => {
        #[doc = concat!(
            $pyname, "(", $(stringify!($field), "=", stringify!($default), ", ",)* ")\n--\n\n"
        )]
        $(#[doc = $doc])*
        #[pyo3::pyclass(name = $pyname, module = "ruvector_training._core", frozen)]
        pub struct $class {
            inner: $crate::args::Shared<$config>,
            $($($sfield: $sty,)*)?
        }

        impl $class {
            /// Checks a whole would-be configuration (the table's `validate`).
            fn validate_config(config: &$config) -> pyo3::PyResult<()> {
                ($crate::config_validator!($config $(, $validate)?))(config)
            }
        }

        paste::paste! {
        #[pyo3::pymethods]
        impl $impl_class {
            #[new]
            #[pyo3(
                signature = ($($field = $crate::config::Arg::Missing),*),
                text_signature = None
            )]
            #[allow(clippy::too_many_arguments, clippy::needless_update)]
            fn __new__<'py>(
                py: pyo3::Python<'py>,
                $($field: $crate::config::Arg<'py>),*
            ) -> pyo3::PyResult<Self> {
                $(
                    let $field: $ty = ($crate::field_converter!($ty $(, $convert)?))(
                        stringify!($field),
                        &$field.or_default($crate::py_literal!(py, $default)),
                    )?;
                    $crate::field_check!(stringify!($field), $field $(, $check)?);
                )*
                let config = $config { $($field,)* ..Default::default() };
                Self::validate_config(&config)?;
                Ok(Self {
                    inner: $crate::args::Shared::new(config),
                    $($($sfield: $sinit,)*)?
                })
            }

            $(
                $(#[doc = $fdoc])*
                #[getter($field)]
                fn [<get_ $field>]<'py>(
                    &self,
                    py: pyo3::Python<'py>,
                ) -> pyo3::PyResult<pyo3::Bound<'py, pyo3::PyAny>> {
                    $crate::config::FieldValue::to_python(&self.inner.get().$field, py)
                }

                #[setter($field)]
                fn [<set_ $field>](
                    &self,
                    value: &pyo3::Bound<'_, pyo3::PyAny>,
                ) -> pyo3::PyResult<()> {
                    let value: $ty = ($crate::field_converter!($ty $(, $convert)?))(
                        stringify!($field),
                        value,
                    )?;
                    $crate::field_check!(stringify!($field), value $(, $check)?);
                    self.inner.update(|c| c.$field = value, Self::validate_config)
                }
            )*

            /// The configuration's field names, in constructor order.
            #[classattr]
            fn config_fields(py: pyo3::Python<'_>) -> pyo3::PyResult<pyo3::Py<pyo3::types::PyTuple>> {
                Ok(pyo3::types::PyTuple::new(py, [$(stringify!($field)),*])?.unbind())
            }

            fn __repr__(&self, py: pyo3::Python<'_>) -> pyo3::PyResult<String> {
                let config = self.inner.get();
                let fields: Vec<String> = vec![$(
                    format!(
                        "{}={}",
                        stringify!($field),
                        $crate::config::field_repr(py, &config.$field)?
                    )
                ),*];
                Ok(format!("{}({})", $pyname, fields.join(", ")))
            }

            fn __eq__(&self, other: pyo3::PyRef<'_, Self>) -> bool {
                let (this, other) = (self.inner.get(), other.inner.get());
                true $(&& this.$field == other.$field)*
            }

            fn __reduce__<'py>(
                slf: &pyo3::Bound<'py, Self>,
            ) -> pyo3::PyResult<(pyo3::Bound<'py, pyo3::types::PyType>, pyo3::Bound<'py, pyo3::types::PyTuple>)> {
                let py = slf.py();
                let config = slf.get().inner.get();
                let values = vec![$($crate::config::FieldValue::to_python(&config.$field, py)?),*];
                Ok((slf.get_type(), pyo3::types::PyTuple::new(py, values)?))
            }

            $($methods)*
        }
        }
    };
}
pub(crate) use config_class;
