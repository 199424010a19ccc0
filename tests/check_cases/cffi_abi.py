"""cffi ABI mode: the cdef text is checked against the header like ctypes declarations are."""

from cffi import FFI

ffi = FFI()
ffi.cdef(
    """
    double circle_area(double radius);
    void scale_array(double *arr, int n, double factor);  /* expect: FFI009 */
    double *compute_distances(const double *points, size_t n_points);
    void free_array(double *arr);
    """
)
lib = ffi.dlopen("./libmathlib.so")

good = FFI()
good.cdef("double circle_area(double radius); void scale_array(double *arr, size_t n, double factor);")
glib = good.dlopen("./libmathlib.so")


def area(r):
    return lib.circle_area(r) + glib.circle_area(r)


def scale(values, factor):
    arr = ffi.new("double[]", values)
    lib.scale_array(arr, len(values), factor)
    glib.scale_array(arr, len(values))  # expect: FFI010
    return list(arr)
