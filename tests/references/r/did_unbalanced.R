# Reference numbers for evalkit's Callaway & Sant'Anna estimator on an UNBALANCED panel, from
# R did's att_gt(..., panel = TRUE, allow_unbalanced_panel = TRUE).
#
# Our own script: it only calls the installed packages (did, DRDID, BMisc, jsonlite) and writes
# estimates / standard errors - never the data - to a JSON file. Input: the CSV written by
#   python tests/references/r/make_unbalanced_mpdta.py /tmp/evalkit_unbalanced/mpdta_unbalanced.csv
# (mpdta from moderndid, ~10 % of unit-years dropped with a fixed seed; columns state, w added).
# Run from the repository root:
#   Rscript tests/references/r/did_unbalanced.R /tmp/evalkit_unbalanced/mpdta_unbalanced.csv \
#       tests/references/did_r_unbalanced.json
# Environment used for the stored file: R 4.2.2 (Debian), did 2.1.2 / DRDID 1.2.3 / BMisc 1.4.6
# (CRAN sources via the cran/* GitHub mirrors) in /opt/rlib, r-cran-jsonlite 1.8.4.
#
# did 2.1.2 ignores clustervars when bstrap = FALSE (warning; the SEs it returns are NOT
# clustered). For the clustered settings under did < 2.3 the script therefore also stores two
# deterministic clustered SEs computed here from did's own influence functions (o$inffunc,
# aggte's inf.function; did 2.1.2 orders their rows by ascending id), as did_mpdta.R does:
#   derived_cluster_sum_se  = sqrt(sum_c S_c^2) / n   (S_c: cluster SUM; did >= 2.3 analytic, csdid)
#   derived_cluster_mean_se = sqrt(sum_c m_c^2) / G   (m_c: cluster MEAN; target of did 2.1.2 mboot)
# did 2.5.1 (bcallaway11/did) clusters analytically with bstrap = FALSE (its own se is stored);
# its influence-function rows are not in ascending id order, so no derived targets are written.
# The same script, with did 2.5.1 first on the library path:
#   R_DID_LIB=/opt/rlib25:/opt/rlib Rscript tests/references/r/did_unbalanced.R \
#       /tmp/evalkit_unbalanced/mpdta_unbalanced.csv tests/references/did_r_2_5_1_unbalanced.json

.libPaths(c(strsplit(Sys.getenv("R_DID_LIB", "/opt/rlib"), ":")[[1]], .libPaths()))
suppressPackageStartupMessages({
  library(did)
  library(jsonlite)
})

derive_clusters <- packageVersion("did") < "2.3"
args <- commandArgs(TRUE)
in_file <- if (length(args) >= 1) args[1] else "/tmp/evalkit_unbalanced/mpdta_unbalanced.csv"
out_file <- if (length(args) >= 2) args[2] else "tests/references/did_r_unbalanced.json"

ub <- read.csv(in_file, check.names = FALSE)
stopifnot(!is.unsorted(ub$countyreal))  # did's aggregate-by-id returns ids ascending

fmt17 <- function(x) ifelse(is.finite(x), sprintf("%.17g", x), "null")
num <- function(x) {
  x <- as.numeric(x)
  structure(paste0("[", paste(fmt17(x), collapse = ","), "]"), class = "json")
}
sc <- function(x) structure(fmt17(as.numeric(x)), class = "json")
call_text <- function(cl) paste(deparse(cl, width.cutoff = 500L), collapse = " ")

run <- function(cl) {
  warns <- character(0)
  val <- withCallingHandlers(eval(cl),
                             warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") })
  list(value = val, warnings = unique(warns), call = call_text(cl))
}

att_gt_call <- function(args) {
  as.call(c(list(quote(att_gt), yname = "lemp", tname = "year", idname = "countyreal", gname = "first.treat",
                 xformla = quote(~lpop), data = quote(ub), panel = TRUE, allow_unbalanced_panel = TRUE,
                 est_method = "dr"), args, list(bstrap = FALSE, cband = FALSE)))
}

# one cluster label per unit, ascending id (the row order of did's influence functions here)
units <- unique(ub[order(ub$countyreal), c("countyreal", "state")])
stopifnot(!anyDuplicated(units$countyreal))
cl <- units$state
clustered_targets <- function(f) {
  f <- as.matrix(f)
  stopifnot(nrow(f) == length(cl))
  S <- rowsum(f, cl, reorder = TRUE)
  m <- S / as.numeric(table(cl))
  list(derived_cluster_sum_se = num(sqrt(colSums(S^2)) / nrow(f)),
       derived_cluster_mean_se = num(sqrt(colSums(m^2)) / nrow(S)))
}
unclustered_from_inf <- function(f) {
  f <- as.matrix(f)
  num(sqrt(colSums(f^2)) / nrow(f))
}

pack_att_gt <- function(r, clustered) {
  o <- r$value
  res <- list(call = r$call, warnings = r$warnings, n = o$n,
              group = num(o$group), time = num(o$t), att = num(o$att), se = num(o$se),
              derived_se_from_inffunc = unclustered_from_inf(o$inffunc))
  if (clustered && derive_clusters) res$clustered <- clustered_targets(o$inffunc)
  res
}

pack_aggte <- function(r, clustered) {
  a <- r$value
  res <- list(call = r$call, warnings = r$warnings, overall_att = sc(a$overall.att), overall_se = sc(a$overall.se),
              egt = if (is.null(a$egt)) list() else num(a$egt),
              att_egt = if (is.null(a$att.egt)) list() else num(a$att.egt),
              se_egt = if (is.null(a$se.egt)) list() else num(a$se.egt))
  if (clustered && derive_clusters) {
    parts <- a$inf.function
    overall <- parts[[length(parts)]]
    res$clustered <- list(
      components = if (a$type == "simple") list() else clustered_targets(parts[[1]]),
      overall = clustered_targets(overall), inf_function_names = names(parts))
  }
  res
}

settings <- list(
  dr_never = list(control_group = "nevertreated"),
  dr_notyet = list(control_group = "notyettreated"),
  dr_never_cluster_state = list(control_group = "nevertreated", clustervars = c("countyreal", "state")),
  dr_notyet_cluster_state = list(control_group = "notyettreated", clustervars = c("countyreal", "state")),
  dr_never_w = list(control_group = "nevertreated", weightsname = "w"),
  dr_notyet_w = list(control_group = "notyettreated", weightsname = "w"),
  dr_never_w_cluster_state = list(control_group = "nevertreated", weightsname = "w",
                                  clustervars = c("countyreal", "state"))
)

results <- list()
for (name in names(settings)) {
  clustered <- !is.null(settings[[name]]$clustervars)
  r <- run(att_gt_call(settings[[name]]))
  res <- pack_att_gt(r, clustered)
  fit <- r$value
  res$aggte <- list()
  for (type in c("simple", "group", "dynamic")) {
    acl <- bquote(aggte(fit, type = .(type), bstrap = FALSE, cband = FALSE))
    res$aggte[[type]] <- pack_aggte(run(acl), clustered)
  }
  results[[name]] <- res
  cat(name, "done\n")
}

sha <- tryCatch(strsplit(system2("sha256sum", in_file, stdout = TRUE), " ")[[1]][1], error = function(e) NA)
meta <- list(
  description = paste("R did att_gt/aggte on an unbalanced panel derived from mpdta",
                      "(tests/references/r/make_unbalanced_mpdta.py). Generated by tests/references/r/did_unbalanced.R."),
  date = format(Sys.time(), "%Y-%m-%d %H:%M:%S %Z"),
  R_version = R.version.string,
  derived_cluster_targets = derive_clusters,
  did_description = list(Repository = packageDescription("did")$Repository, Packaged = packageDescription("did")$Packaged,
                         DRDID_requirement = grep("DRDID", strsplit(packageDescription("did")$Imports, ",")[[1]], value = TRUE)),
  packages = list(did = as.character(packageVersion("did")), DRDID = as.character(packageVersion("DRDID")),
                  BMisc = as.character(packageVersion("BMisc")),
                  data.table = as.character(packageVersion("data.table")), jsonlite = as.character(packageVersion("jsonlite"))),
  input = list(rows = nrow(ub), units = length(unique(ub$countyreal)), clusters = length(unique(cl)),
               cluster_sizes = as.numeric(table(cl)), csv_sha256 = sha),
  data = "ub <- read.csv(<csv>, check.names = FALSE)  # columns year, countyreal, lpop, lemp, first.treat, treat, state, w",
  aggte_note = "aggte(fit, type=..., bstrap=FALSE, cband=FALSE); all other aggte arguments at their defaults",
  precision = "every number written with sprintf('%.17g') (exact double round trip) via jsonlite::toJSON(json_verbatim=TRUE)"
)

writeLines(toJSON(list(meta = meta, settings = results), digits = NA, auto_unbox = TRUE, na = "null",
                  null = "null", pretty = TRUE, json_verbatim = TRUE), out_file)
cat("wrote", out_file, "\n")
