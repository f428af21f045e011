#ifndef T2UE_RUNTIME_ANCHOR_H
#define T2UE_RUNTIME_ANCHOR_H

/* The path of the loaded image (the app, a framework, a test bundle) that contains ONNX Runtime's
 * OrtGetApiBase, or NULL. ONNX Runtime is linked statically on iOS; the t2ue engine loads it at
 * run time (ort's load-dynamic), so it is given this path as EngineOptions.runtimeLibrary. */
const char *t2ue_onnxruntime_image_path(void);

#endif
