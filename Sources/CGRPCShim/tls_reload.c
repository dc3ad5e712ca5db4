// Reloadable TLS certificates (see cgrpc_shim.h): the core's certificate-config fetcher
// (grpc_ssl_server_credentials_create_options_using_config_fetcher, grpc 1.51) is called at the
// security connector's creation and before every new handshake; it answers NEW with a pending
// config once, then UNCHANGED until the next offer.
#include "cgrpc_shim.h"

struct cgrpc_tls_source {
  pthread_mutex_t lock;
  grpc_ssl_server_certificate_config *pending;  // owned until the core takes it
  uint64_t taken;
};

static grpc_ssl_server_certificate_config *cgrpc_tls_config(const char *key_pem,
                                                            const char *cert_pem,
                                                            const char *client_ca_pem) {
  grpc_ssl_pem_key_cert_pair pair = {.private_key = key_pem, .cert_chain = cert_pem};
  // Core 1.51 asserts that a fetched config has root certificates (ssl_security_connector.cc),
  // even when client certificates are never requested: then the server's own chain stands in,
  // loaded but never used (no CertificateRequest is sent). The strings are copied.
  const char *roots = client_ca_pem != NULL ? client_ca_pem : cert_pem;
  return grpc_ssl_server_certificate_config_create(roots, &pair, 1);
}

cgrpc_tls_source *cgrpc_tls_source_create(const char *key_pem, const char *cert_pem,
                                          const char *client_ca_pem) {
  cgrpc_tls_source *source = calloc(1, sizeof(cgrpc_tls_source));
  pthread_mutex_init(&source->lock, NULL);
  source->pending = cgrpc_tls_config(key_pem, cert_pem, client_ca_pem);
  return source;
}

void cgrpc_tls_source_offer(cgrpc_tls_source *source, const char *key_pem, const char *cert_pem,
                            const char *client_ca_pem) {
  grpc_ssl_server_certificate_config *fresh = cgrpc_tls_config(key_pem, cert_pem, client_ca_pem);
  pthread_mutex_lock(&source->lock);
  grpc_ssl_server_certificate_config *old = source->pending;
  source->pending = fresh;
  pthread_mutex_unlock(&source->lock);
  if (old != NULL) grpc_ssl_server_certificate_config_destroy(old);
}

uint64_t cgrpc_tls_source_taken(cgrpc_tls_source *source) {
  pthread_mutex_lock(&source->lock);
  uint64_t taken = source->taken;
  pthread_mutex_unlock(&source->lock);
  return taken;
}

static grpc_ssl_certificate_config_reload_status cgrpc_tls_fetch(
    void *user_data, grpc_ssl_server_certificate_config **config) {
  cgrpc_tls_source *source = user_data;
  pthread_mutex_lock(&source->lock);
  grpc_ssl_server_certificate_config *pending = source->pending;
  source->pending = NULL;
  if (pending != NULL) source->taken++;
  pthread_mutex_unlock(&source->lock);
  if (pending == NULL) return GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_UNCHANGED;
  *config = pending;  // the core owns it now
  return GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_NEW;
}

grpc_server_credentials *cgrpc_server_credentials_create_reloadable(cgrpc_tls_source *source,
                                                                    int client_ca,
                                                                    int require_client_cert) {
  grpc_ssl_client_certificate_request_type request = GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
  if (client_ca) {
    request = require_client_cert ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                  : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  grpc_ssl_server_credentials_options *options =
      grpc_ssl_server_credentials_create_options_using_config_fetcher(request, cgrpc_tls_fetch,
                                                                      source);
  if (options == NULL) return NULL;
  return grpc_ssl_server_credentials_create_with_options(options);  // takes the options
}

int cgrpc_tls_check(const char *key_pem, const char *cert_pem, const char *client_ca_pem,
                    const char *address) {
  grpc_server_credentials *credentials =
      cgrpc_server_credentials_create(key_pem, cert_pem, client_ca_pem, 0);
  if (credentials == NULL) return 0;
  grpc_completion_queue *queue = grpc_completion_queue_create_for_pluck(NULL);
  grpc_server *server = grpc_server_create(NULL, NULL);
  grpc_server_register_completion_queue(server, queue, NULL);
  // Building the port's security connector builds the TLS context: a key that does not match
  // its certificate, or a PEM that does not parse, fails here.
  int port = grpc_server_add_http2_port(server, address, credentials);
  grpc_server_credentials_release(credentials);
  grpc_server_start(server);
  int tag;
  grpc_server_shutdown_and_notify(server, queue, &tag);
  grpc_completion_queue_pluck(queue, &tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
  grpc_server_destroy(server);
  grpc_completion_queue_shutdown(queue);
  grpc_completion_queue_destroy(queue);
  return port > 0;
}
