"""The live status page at `/ui`: one HTML page and its script, served from files in this
package (no build step, no CDN), and the JSON it polls (`/ui/api/...`).

Who may see and do what (README: Status page):
- the page and its state (devices, servers, queue, recent requests) are read like the proxy's
  API: open, or with an API key when the proxy has keys. The state is a curated view: no
  command lines, environments, log paths or upstream URLs;
- log tails and actions (load, unload, sleep, wake, pin, unpin) need the admin token
  (`supervisor.admin_token`) in `x-modelyard-admin-token`; without one configured the page is
  read-only. A custom header also keeps other sites' pages out: a browser sends it cross-site
  only after a CORS preflight, which the proxy never grants.

The proxy relays what the page shows from the supervisor with its own admin client, so the
supervisor can stay on loopback behind its token.
"""
