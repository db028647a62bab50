//! Integer arguments: index and label arrays of any integer dtype, and per-query index lists.

use numpy::{Element, PyArrayDescrMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use ruvector_training_core::ExcludeLists;

use crate::args::{integer, short_repr, type_name};
use crate::arrays::{
    as_ndarray, format_shape, memory_error, ndarray_of, to_py_err, try_vec, value_error,
};

/// An integer ndarray of any signed or unsigned dtype as `i64` values (row-major) and its shape.
pub fn int_array(arg: &str, obj: &Bound<'_, PyAny>) -> PyResult<(Vec<i64>, Vec<usize>)> {
    let array = ndarray_of(arg, obj, "an integer dtype")?;
    let kind = array.dtype().kind();
    if kind != b'i' && kind != b'u' {
        return Err(PyTypeError::new_err(format!(
            "{arg}: expected an integer dtype, got {}",
            array.dtype()
        )));
    }
    let shape = array.shape().to_vec();
    // The output is reserved (fallibly) before anything is read or converted: a strided or
    // broadcast index array too large to copy is a `MemoryError` naming `arg`.
    let len = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    let len = len.ok_or_else(|| memory_error::<i64>(arg, usize::MAX, INDEX_COPY))?;
    let mut out = try_vec::<i64>(arg, len, INDEX_COPY)?;
    if kind == b'u' && array.dtype().itemsize() == 8 {
        let values: PyReadonlyArrayDyn<'_, u64> = obj.extract()?;
        for &v in values.as_array().iter() {
            let v = i64::try_from(v)
                .map_err(|_| value_error(arg, format!("value {v} does not fit in int64")))?;
            out.push(v);
        }
        return Ok((out, shape));
    }
    if widen::<i64>(obj, &mut out)
        || widen::<i32>(obj, &mut out)
        || widen::<i16>(obj, &mut out)
        || widen::<i8>(obj, &mut out)
        || widen::<u32>(obj, &mut out)
        || widen::<u16>(obj, &mut out)
        || widen::<u8>(obj, &mut out)
    {
        return Ok((out, shape));
    }
    // A non-native byte order: NumPy converts (its own allocation raises `MemoryError`).
    let wide = obj.call_method1("astype", ("int64",))?;
    let values: PyReadonlyArrayDyn<'_, i64> = wide.extract()?;
    out.extend(values.as_array().iter().copied());
    Ok((out, shape))
}

/// What an index array's `int64` copy is for (in `MemoryError` messages).
const INDEX_COPY: &str = "an int64 copy of this integer array";

/// Appends the elements of `obj` to `out` as `i64` when its dtype is `T` (returns false
/// otherwise, leaving `out` untouched). `out` has room for all of them.
fn widen<T: Element + Copy + Into<i64>>(obj: &Bound<'_, PyAny>, out: &mut Vec<i64>) -> bool {
    match obj.extract::<PyReadonlyArrayDyn<'_, T>>() {
        Ok(values) => {
            out.extend(values.as_array().iter().map(|&v| v.into()));
            true
        }
        Err(_) => false,
    }
}

/// A 1-D integer array of exactly `expected` entries (`what` describes them in errors).
pub fn int_vector(
    arg: &str,
    obj: &Bound<'_, PyAny>,
    expected: Option<usize>,
    what: &str,
) -> PyResult<Vec<i64>> {
    let (values, shape) = int_array(arg, obj)?;
    let matches = shape.len() == 1 && expected.is_none_or(|n| shape[0] == n);
    if !matches {
        let wanted = expected.map_or("(n,)".to_string(), |n| format!("({n},)"));
        return Err(value_error(
            arg,
            format!(
                "expected shape {wanted} ({what}), got {}",
                format_shape(&shape)
            ),
        ));
    }
    Ok(values)
}

/// Reads `exclude=`: `None`, a 2-D integer array (one row per query, `-1` as padding), or a
/// sequence of one iterable of integer indices per query.
pub fn exclude_lists(
    arg: &'static str,
    obj: Option<&Bound<'_, PyAny>>,
    num_queries: usize,
    corpus_rows: usize,
) -> PyResult<Option<ExcludeLists>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    let rows: Vec<Vec<i64>> = if as_ndarray(arg, obj).is_ok() {
        let (values, shape) = int_array(arg, obj)?;
        if shape.len() != 2 {
            return Err(value_error(
                arg,
                format!(
                    "expected a 2-D array (one row of indices per query) or a list of lists, \
                     got shape {}",
                    format_shape(&shape)
                ),
            ));
        }
        let width = shape[1];
        let mut rows = try_vec::<&[i64]>(arg, shape[0], "the exclude lists")?;
        rows.extend((0..shape[0]).map(|row| &values[row * width..(row + 1) * width]));
        return ExcludeLists::new(arg, &rows, num_queries, corpus_rows)
            .map(Some)
            .map_err(to_py_err);
    } else {
        let items = obj.try_iter().map_err(|_| {
            PyTypeError::new_err(format!(
                "{arg}: expected a sequence of index lists (one per query), a 2-D integer \
                 array or None"
            ))
        })?;
        let mut rows = Vec::new();
        for (position, item) in items.enumerate() {
            rows.push(index_list(arg, position, &item?)?);
        }
        rows
    };
    ExcludeLists::new(arg, &rows, num_queries, corpus_rows)
        .map(Some)
        .map_err(to_py_err)
}

/// One query's indices: an integer array or any iterable of Python integers.
fn index_list(arg: &str, position: usize, item: &Bound<'_, PyAny>) -> PyResult<Vec<i64>> {
    let name = format!("{arg}[{position}]");
    if as_ndarray(arg, item).is_ok() {
        return Ok(int_array(&name, item)?.0);
    }
    let values = item.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "{name}: expected an iterable of integer indices, got {}",
            type_name(item)
        ))
    })?;
    let mut out = Vec::new();
    for value in values {
        let value = value?;
        // A non-integer is a TypeError naming the entry; an integer beyond int64 a ValueError
        // (it is out of range for any corpus).
        let index = integer(&name, &value).map_err(|_| {
            PyTypeError::new_err(format!(
                "{name}: expected an iterable of integer indices, got an entry of type {}",
                type_name(&value)
            ))
        })?;
        out.push(i64::try_from(index).map_err(|_| {
            value_error(
                &name,
                format!("index {} is out of range", short_repr(&value)),
            )
        })?);
    }
    Ok(out)
}
