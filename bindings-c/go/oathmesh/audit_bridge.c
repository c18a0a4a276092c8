// Bridges liboathmesh's audit callback to the Go function registered for a verifier. The
// cgo.Handle travels through the library as the callback's opaque user_data.
#include <stdint.h>

#include "oathmesh.h"
#include "_cgo_export.h"

static void oathmesh_go_audit_trampoline(void *user_data, const uint8_t *event, size_t event_len) {
    oathmeshGoAudit((uintptr_t)user_data, (uint8_t *)event, event_len);
}

oathmesh_status oathmesh_go_verifier_new_with_audit(const uint8_t *config, size_t config_len, uintptr_t handle,
                                                    oathmesh_verifier **verifier_out, oathmesh_error **err_out) {
    return oathmesh_verifier_new_with_audit(config, config_len, oathmesh_go_audit_trampoline, (void *)handle,
                                            verifier_out, err_out);
}
