"""Model families (pca_kmeans, xgboost, lstm) behind one interface, and their artifacts."""
