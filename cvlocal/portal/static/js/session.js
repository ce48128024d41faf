// The keys live in this tab's sessionStorage only: gone when the tab closes, never in a URL, a cookie or the page.
const TRAINING_KEY = "cvlocal.portal.trainingKey";
const PREDICTION_KEY = "cvlocal.portal.predictionKey";
const RESOURCE_ID = "cvlocal.portal.predictionResourceId";

export const session = {
  trainingKey: () => sessionStorage.getItem(TRAINING_KEY) || "",
  predictionKey: () => sessionStorage.getItem(PREDICTION_KEY) || "",
  signedIn: () => Boolean(sessionStorage.getItem(TRAINING_KEY)),
  signIn(trainingKey, predictionKey) {
    sessionStorage.setItem(TRAINING_KEY, trainingKey);
    if (predictionKey) sessionStorage.setItem(PREDICTION_KEY, predictionKey);
    else sessionStorage.removeItem(PREDICTION_KEY);
  },
  signOut() {
    sessionStorage.removeItem(TRAINING_KEY);
    sessionStorage.removeItem(PREDICTION_KEY);
  },
  // The prediction resource last published to (not a secret: an ARM resource id).
  predictionResourceId: () => sessionStorage.getItem(RESOURCE_ID) || "",
  rememberPredictionResourceId: (value) => sessionStorage.setItem(RESOURCE_ID, value),
};
