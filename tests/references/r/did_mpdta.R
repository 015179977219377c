# Reference numbers for evalkit's Callaway & Sant'Anna estimator from R `did` on mpdta.
#
# Our own script: it only calls the installed packages (did, DRDID, BMisc, jsonlite) and
# writes estimates / standard errors / test statistics - never the data - to
#   tests/references/did_r_2_1_2_mpdta.json
# Run from the repository root:
#   Rscript tests/references/r/did_mpdta.R
# Environment used for the stored file: R 4.2.2 (Debian), did 2.1.2 (CRAN source), DRDID 1.2.3,
# BMisc 1.4.6 in /opt/rlib, r-cran-jsonlite.
#
# Cluster variable (setting "dr_never_lpop_cluster_state"): state = countyreal %/% 1000, i.e. the
# state FIPS code of the county FIPS code (integer division); 29 clusters of 3 to 46 counties.
# The Python test rebuilds it with the same rule.

.libPaths(c(strsplit(Sys.getenv("R_DID_LIB", "/opt/rlib"), ":")[[1]], .libPaths()))
suppressPackageStartupMessages({
  library(did)
  library(jsonlite)
})

out_file <- if (length(commandArgs(TRUE))) commandArgs(TRUE)[1] else "tests/references/did_r_2_1_2_mpdta.json"

data(mpdta, package = "did")
mpdta$state <- mpdta$countyreal %/% 1000

# jsonlite 1.8.4 prints at most 15 significant digits even with digits=NA, so numbers are written
# verbatim with sprintf("%.17g") (exact round trip of every double); NA / NaN / Inf become null.
fmt17 <- function(x) ifelse(is.finite(x), sprintf("%.17g", x), "null")
num <- function(x) {
  x <- as.numeric(x)
  structure(paste0("[", paste(fmt17(x), collapse = ","), "]"), class = "json")
}
sc <- function(x) structure(fmt17(as.numeric(x)), class = "json")
call_text <- function(cl) paste(deparse(cl, width.cutoff = 500L), collapse = " ")

# Evaluate a call, keep its warnings (recorded in the JSON) and return the value.
run <- function(cl) {
  warns <- character(0)
  val <- withCallingHandlers(eval(cl),
                             warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") })
  list(value = val, warnings = unique(warns), call = call_text(cl))
}

att_gt_call <- function(args) {
  as.call(c(list(quote(att_gt), yname = "lemp", tname = "year", idname = "countyreal", gname = "first.treat",
                 xformla = quote(~lpop), data = quote(mpdta)), args))
}

pack_att_gt <- function(r) {
  o <- r$value
  # R's W uses the pre-treatment cells group > t with a non-NA standard error (att_gt.R); the count
  # is recorded so the test can report it (derived here, not returned by att_gt).
  q <- sum(o$group > o$t & !is.na(o$se))
  list(call = r$call, warnings = r$warnings, n = o$n,
       group = num(o$group), time = num(o$t), att = num(o$att), se = num(o$se),
       W = if (is.null(o$W)) NA else sc(o$W), Wpval = if (is.null(o$Wpval)) NA else sc(o$Wpval),
       W_df_derived = q,
       W_pval_unrounded_derived = if (is.null(o$W)) NA else sc(1 - pchisq(as.numeric(o$W), q)))
}

pack_aggte <- function(r) {
  a <- r$value
  list(call = r$call, warnings = r$warnings, overall_att = sc(a$overall.att), overall_se = sc(a$overall.se),
       egt = if (is.null(a$egt)) list() else num(a$egt),
       att_egt = if (is.null(a$att.egt)) list() else num(a$att.egt),
       se_egt = if (is.null(a$se.egt)) list() else num(a$se.egt))
}

settings <- list(
  dr_never_lpop = list(est_method = "dr", control_group = "nevertreated", bstrap = FALSE),
  dr_notyet_lpop = list(est_method = "dr", control_group = "notyettreated", bstrap = FALSE),
  reg_never_lpop = list(est_method = "reg", control_group = "nevertreated", bstrap = FALSE),
  # did 2.1.2 ignores clustervars when bstrap=FALSE (warning; SEs are NOT clustered).
  dr_never_lpop_cluster_state = list(est_method = "dr", control_group = "nevertreated",
                                     clustervars = c("countyreal", "state"), bstrap = FALSE),
  dr_never_lpop_universal_antic1 = list(est_method = "dr", control_group = "nevertreated",
                                        base_period = "universal", anticipation = 1, bstrap = FALSE),
  dr_never_lpop_antic1 = list(est_method = "dr", control_group = "nevertreated", anticipation = 1, bstrap = FALSE),
  dr_notyet_lpop_universal = list(est_method = "dr", control_group = "notyettreated",
                                  base_period = "universal", bstrap = FALSE)
)

results <- list()
for (name in names(settings)) {
  r <- run(att_gt_call(settings[[name]]))
  res <- pack_att_gt(r)
  fit <- r$value
  res$aggte <- list()
  for (type in c("simple", "group", "dynamic", "calendar")) {
    acl <- bquote(aggte(fit, type = .(type), bstrap = FALSE))
    res$aggte[[type]] <- pack_aggte(run(acl))
  }
  results[[name]] <- res
}

# ---------------------------------------------------------------------------------------------
# Clustered standard errors in did 2.1.2 exist only through the multiplier bootstrap (mboot):
# it averages the influence function within clusters (rowsum / cluster size), draws one
# Rademacher weight per cluster and scales by sqrt(G); its SE targets sqrt(sum_c m_c^2) / G
# (m_c = cluster mean of the influence function). The development version on GitHub
# (bcallaway11/did, mboot.R, "Remark 10") sums instead: sqrt(sum_c S_c^2) / n. With unequal
# clusters the two differ. We record (1) did's own mboot() with many draws on the att_gt
# influence functions (IQR-based se and the sd-based sqrt(diag(V)) / sqrt(G)), and (2) both
# deterministic targets computed here from did's influence function o$inffunc (derived).
set.seed(20240601)
biters <- 200000L
boot_call <- att_gt_call(list(est_method = "dr", control_group = "nevertreated",
                              clustervars = c("countyreal", "state"), bstrap = TRUE, cband = FALSE,
                              biters = biters))
rb <- run(boot_call)
ob <- rb$value
dp <- ob$DIDparams
mb_call <- quote(mboot(ob$inffunc, DIDparams = dp))
set.seed(20240602)
mb <- run(mb_call)$value
inf <- as.matrix(ob$inffunc)
# rows of the influence function follow did's data in the first period, as in mboot()
first <- as.data.frame(dp$data)
first <- first[first$year == min(first$year), ]
cl <- unique(first[, c("countyreal", "state")])$state
stopifnot(length(cl) == nrow(inf))
n <- nrow(inf)
G <- length(unique(cl))
S <- rowsum(inf, cl, reorder = TRUE)
m <- S / as.numeric(table(cl))
boot_se_call_note <- "set.seed(20240601) before att_gt(...); set.seed(20240602) before mboot(...)"
clustered_targets <- function(f) {
  f <- as.matrix(f)
  S <- rowsum(f, cl, reorder = TRUE)
  m <- S / as.numeric(table(cl))
  list(derived_cluster_mean_se = num(sqrt(colSums(m^2)) / G), derived_cluster_sum_se = num(sqrt(colSums(S^2)) / n))
}
# The same two targets for aggte()'s influence functions (components, then overall), from the
# bstrap=FALSE fit of setting dr_never_lpop_cluster_state (same influence functions). The group
# overall influence function carries did 2.1.2's weight term (wif called with group=group over
# keepers 1:length(glist)); see tests/test_did_r_reference.py.
agg_targets <- list()
fit_cl <- suppressWarnings(eval(att_gt_call(settings$dr_never_lpop_cluster_state)))
for (type in c("simple", "group", "dynamic", "calendar")) {
  a <- suppressWarnings(aggte(fit_cl, type = type, bstrap = FALSE))
  parts <- a$inf.function
  comp <- if (type == "simple") NULL else parts[[1]]
  overall <- parts[[length(parts)]]
  agg_targets[[type]] <- list(
    components = if (is.null(comp)) list() else clustered_targets(comp),
    overall = clustered_targets(overall),
    inf_function_names = names(parts))
}
results$dr_never_lpop_cluster_state_bootstrap <- list(
  call = rb$call, mboot_call = call_text(mb_call), seeds = boot_se_call_note, warnings = rb$warnings,
  biters = biters, n = n, n_clusters = G, cluster_sizes = as.numeric(table(cl)),
  group = num(ob$group), time = num(ob$t), att = num(ob$att),
  att_gt_boot_se = num(ob$se),
  mboot_se = num(mb$se),
  mboot_sd_se = num(sqrt(diag(mb$V)) / sqrt(G)),
  derived_cluster_mean_se = num(sqrt(colSums(m^2)) / G),
  derived_cluster_sum_se = num(sqrt(colSums(S^2)) / n),
  aggte_derived = agg_targets
)

meta <- list(
  description = paste("R did att_gt/aggte on mpdta (did's packaged copy, identical to moderndid.load_mpdta()",
                      "up to ~1e-14 in lemp/lpop). Generated by tests/references/r/did_mpdta.R."),
  date = format(Sys.time(), "%Y-%m-%d %H:%M:%S %Z"),
  R_version = R.version.string,
  packages = list(did = as.character(packageVersion("did")), DRDID = as.character(packageVersion("DRDID")),
                  BMisc = as.character(packageVersion("BMisc")), jsonlite = as.character(packageVersion("jsonlite"))),
  data = "data(mpdta, package='did'); mpdta$state <- mpdta$countyreal %/% 1000",
  aggte_note = "aggte(fit, type=..., bstrap=FALSE); all other aggte arguments at their defaults",
  precision = "every number written with sprintf('%.17g') (exact double round trip) via jsonlite::toJSON(json_verbatim=TRUE)"
)

writeLines(toJSON(list(meta = meta, settings = results), digits = NA, auto_unbox = TRUE, na = "null",
                  null = "null", pretty = TRUE, json_verbatim = TRUE), out_file)
cat("wrote", out_file, "\n")
