// Referencing OrtGetApiBase from a `used` global keeps the static ONNX Runtime's entry point in
// the final binary even with dead stripping, and exported (it is declared with default
// visibility by ORT_EXPORT), so that dlopen(path)/dlsym("OrtGetApiBase") by the engine finds it.
#include <dlfcn.h>
#include <stddef.h>

#include "T2ueRuntimeAnchor.h"

/* onnxruntime_c_api.h: const OrtApiBase *ORT_API_CALL OrtGetApiBase(void); the type is opaque here. */
extern const void *OrtGetApiBase(void);

__attribute__((used)) static const void *(*volatile t2ue_ort_anchor)(void) = OrtGetApiBase;

const char *t2ue_onnxruntime_image_path(void) {
    Dl_info info;
    if (dladdr((const void *)t2ue_ort_anchor, &info) != 0 && info.dli_fname != NULL) {
        return info.dli_fname;
    }
    return NULL;
}
